"""The ``extractive`` backend: no LLM, the best passages quoted with their citations.

It is a backend of its own (fast, exact, no model to host) and the fallback whenever the
configured LLM fails. It is not a chat model: it needs the retrieved passages rather than a
rendered prompt, so the pipeline calls :func:`extractive_answer` directly.

Each excerpt is the passage's sentences that share the most words with the question, cut at a
sentence or word boundary, with Markdown syntax removed so it reads the same in Slack, the
widget and a terminal. One excerpt per document, at most ``max_passages`` of them.
"""

from __future__ import annotations

import re

from assistant.schemas import Passage

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "i",
    "if", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "that", "the",
    "their", "then", "there", "this", "to", "was", "we", "what", "when", "where", "which", "who",
    "why", "will", "with", "you", "your",
})


def extractive_answer(question: str, passages: list[Passage], *, intro: str, max_passages: int = 3,
                      max_chars: int = 320) -> str:
    """An answer made of excerpts; ``[n]`` is the passage's position in ``passages`` (1-based)."""
    lines = [intro.strip(), ""]
    seen_docs: set[str] = set()
    for n, passage in enumerate(passages, start=1):
        if len(seen_docs) >= max_passages:
            break
        if passage.chunk.doc_key in seen_docs:
            continue
        excerpt = best_excerpt(question, passage.chunk.text, max_chars=max_chars)
        if not excerpt:
            continue
        seen_docs.add(passage.chunk.doc_key)
        lines.append(f"- {_clean(passage.chunk.title)}: {excerpt} [{n}]")
    return "\n".join(lines).strip()


def best_excerpt(question: str, text: str, *, max_chars: int = 320) -> str:
    """The run of sentences around the one that best matches the question, at most ``max_chars``."""
    sentences = [s for s in (_clean(p) for p in _SENTENCE_END.split(_strip_markdown(text))) if s]
    if not sentences:
        return ""
    wanted = _content_words(question)
    scores = [len(wanted & _content_words(s)) for s in sentences]
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    excerpt = sentences[best]
    for sentence in sentences[best + 1:]:
        if len(excerpt) + 1 + len(sentence) > max_chars:
            break
        excerpt += " " + sentence
    return _shorten(excerpt, max_chars)


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and len(w) > 1}


def _strip_markdown(text: str) -> str:
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)  # code blocks do not read as an answer
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)  # images
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links: keep the words
    text = re.sub(r"(?m)^\s{0,3}(#{1,6}|>|[-*+]|\d+[.)])\s+", "", text)  # headings, quotes, list markers
    text = re.sub(r"(\*\*|__|`|~~)", "", text)
    text = re.sub(r"(?m)^\s*\|.*\|\s*$", " ", text)  # table rows
    # A line without closing punctuation (a heading, a list item) ends a sentence too.
    return re.sub(r"(?<![.!?:;,])\s*\n\s*\n", ". ", text)


def _clean(text: str) -> str:
    text = " ".join(text.split())
    return text.replace("[", "(").replace("]", ")")  # brackets would read as citations


def _shorten(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"
