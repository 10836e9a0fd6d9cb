"""Turn documents and tickets into chunks sized in the embedding model's own tokens.

Documents are split along their heading structure first, then by sentences; a chunk never
mixes two sections. Tickets are split at conversation-turn boundaries (a single very long
turn falls back to sentences), so a chunk never starts mid-sentence. Every chunk's
``embed_text`` starts with its title and section path, so a short passage still carries
its context into the vector, and the token budget counts that context too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.schemas import Audience, Chunk, Document, TextBlock, Ticket, TicketPart
from assistant.ticket_text import readable_ticket, turn_label

TokenCounter = Callable[[Sequence[str]], list[int]]

# Sentence ends followed by whitespace and something that starts a sentence; keep list items
# and code lines as their own units by splitting at newlines too; a list item's number ("1.") at the
# start of a line is not a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!^\d\.)(?<!^\d\d\.)\s+(?=[\"'(\[A-Z0-9])|\n+", re.MULTILINE)
_SPECIAL_TOKENS = 2  # [CLS] and [SEP] are part of the model's window

ROLE_LABEL = {"customer": "Customer", "agent": "Agent", "system": "System"}
FENCE = "```"
# Bump when a change here or in a loader (ingest/sources/formats) changes the chunks of unchanged
# files: the next ingest re-reads and re-chunks them.
# 2: code blocks are kept fenced in the chunk text; 3: HTML in-page "top" and "¶" links dropped;
# 4: HTML footers in plain divs and in-page tables of contents dropped, table-cell pipes escaped,
# list items in table cells kept apart, no doubled colon after a definition term; a short subsection
# joins its parent's text (_fold_small_subsections); 5: HTML source line breaks read as spaces,
# navigation header/footer tables and link-only tables of contents dropped, admonition headings
# label their text, definitions with paragraphs become subsections, pages that only list other pages
# are skipped (DocBook manuals); 6: a table over the window is cut between rows, each piece under the
# table's header row (marked "--- | ---" by the loaders), paragraphs inside an HTML table cell kept apart,
# no space before punctuation between a heading's elements ("GROUPING SETS, CUBE"); 7: an HTML table's
# caption (a ``<caption>``, or a numbered "Table 2: …" heading or DocBook ``p.title`` right before it) is
# the section of its rows only; 8: an HTML list whose items hold code or several paragraphs (a manual's
# procedure) is read block by block, its code fenced, a step's title labelling its first paragraph,
# and a list item's number is not cut from its text as a sentence; 9: a ticket chunk's vector reads
# its turns without greetings, sign-offs and signature blocks (its stored text is unchanged); 10: a PDF's
# table is read as rows of cells (ingest/sources/formats/pdf_format.py), not glued into the paragraph, and
# so are a plain-text file's column-aligned lines (its title underlines are dropped); 11: a plain-text
# file's underlined first line is its title, and a later underlined line starts a section.
CHUNKING_VERSION = 11


@dataclass(frozen=True)
class ChunkParams:
    max_tokens: int  # the model's window in its own tokens (all-MiniLM-L6-v2: 256)
    overlap_tokens: int
    model_id: str


def content_hash(model_id: str, embed_text: str) -> str:
    return hashlib.sha256(f"{model_id}\n{embed_text}".encode()).hexdigest()


def chunk_identity(doc_key: str, ordinal: int, digest: str) -> str:
    return hashlib.sha1(f"{doc_key}\n{ordinal}\n{digest}".encode()).hexdigest()[:16]


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _split_words(text: str, budget: int, count: TokenCounter) -> list[str]:
    """Last resort for one sentence longer than the budget: cut between words."""
    words = text.split()
    pieces: list[str] = []
    current: list[str] = []
    for word in words:
        trial = " ".join([*current, word])
        if current and count([trial])[0] > budget:
            pieces.append(" ".join(current))
            current = [word]
        else:
            current.append(word)
    if current:
        pieces.append(" ".join(current))
    return pieces


def pack_units(units: Sequence[str], budget: int, count: TokenCounter, *, overlap: int = 0,
               joiner: str = "\n") -> list[str]:
    """Greedily pack text units (sentences or turns) into pieces of at most ``budget`` tokens.

    A unit larger than the budget is split by sentences, then by words. With ``overlap`` > 0
    the trailing units of a full piece (up to ``overlap`` tokens) start the next one.
    """
    if budget <= 0:
        raise ValueError("token budget must be positive")
    expanded: list[str] = []
    sizes = count(list(units)) if units else []
    for unit, size in zip(units, sizes, strict=True):
        if size <= budget:
            expanded.append(unit)
            continue
        for sentence in split_sentences(unit):
            if count([sentence])[0] <= budget:
                expanded.append(sentence)
            else:
                expanded.extend(_split_words(sentence, budget, count))
    if not expanded:
        return []
    sizes = count(expanded)
    joiner_cost = 1
    pieces: list[str] = []
    current: list[int] = []  # indexes into expanded
    used = 0
    for i, size in enumerate(sizes):
        cost = size + (joiner_cost if current else 0)
        if current and used + cost > budget:
            pieces.append(joiner.join(expanded[j] for j in current))
            carry: list[int] = []
            carried = 0
            for j in reversed(current):
                if overlap and carried + sizes[j] <= overlap and carried + sizes[j] + size < budget:
                    carry.insert(0, j)
                    carried += sizes[j] + joiner_cost
                else:
                    break
            current, used = carry, carried
            cost = size + (joiner_cost if current else 0)
        current.append(i)
        used += cost
    if current:
        pieces.append(joiner.join(expanded[j] for j in current))
    return pieces


def _context(title: str, section: str) -> str:
    return f"{title}\n{section}" if section and section != title else title


def _budget(params: ChunkParams, context: str, count: TokenCounter) -> int:
    # Leave a small margin: tokens at the seam between context and text can merge or split.
    return max(16, params.max_tokens - _SPECIAL_TOKENS - count([context])[0] - 2)


def chunk_document(doc: Document, params: ChunkParams, count: TokenCounter) -> list[Chunk]:
    if doc.metadata.get("navigation_only"):
        return []  # a page that only lists other pages: nothing of it is searched (ingest skips it)
    doc_key = f"{doc.source}:{doc.key}"
    groups: list[tuple[tuple[str, ...], list[TextBlock]]] = []
    for block in doc.blocks:
        if not block.text.strip():
            continue
        if groups and groups[-1][0] == block.section:
            groups[-1][1].append(block)
        else:
            groups.append((block.section, [block]))
    groups = _fold_small_subsections(groups, count)

    def sized(texts: Sequence[str]) -> list[int]:  # as the vector reads them: no fences, no header marks
        return count([for_embedding(t) for t in texts])

    chunks: list[Chunk] = []
    for section_path, blocks in groups:
        section = " > ".join(section_path)
        context = _context(doc.title, section)
        budget = _budget(params, context, count)
        units: list[str] = []
        for block in blocks:
            text = block.text.strip()
            if block.kind == "code":
                units.extend(fence_code(block.text, budget, count))
            elif block.kind == "table":
                units.extend(table_units(text, budget, sized))
            else:
                units.extend([text] if "\n" not in text else [t for t in text.split("\n\n") if t.strip()])
        for piece in pack_units(units, budget, sized, overlap=params.overlap_tokens, joiner="\n\n"):
            chunks.append(_make_chunk(
                doc_key=doc_key, source=doc.source, kind="document", audience=doc.audience, title=doc.title,
                section=section, url=doc.url, path=doc.path, ordinal=len(chunks), text=piece,
                context=context, untrusted=False, metadata=dict(doc.metadata), params=params,
            ))
    return chunks


SMALL_SECTION_TOKENS = 48


def _fold_small_subsections(groups: list[tuple[tuple[str, ...], list[TextBlock]]],
                            count: TokenCounter) -> list[tuple[tuple[str, ...], list[TextBlock]]]:
    """A short subsection right after its parent ("ProxyPass Directive > Example", one line of
    configuration) joins the parent's text under a line with its own heading, instead of becoming
    a chunk of a few words whose vector is mostly title and heading."""
    out: list[tuple[tuple[str, ...], list[TextBlock]]] = []
    for path, blocks in groups:
        parent = out[-1][0] if out else ()
        if parent and path[:len(parent)] == parent and len(path) > len(parent) \
                and sum(count([b.text for b in blocks])) <= SMALL_SECTION_TOKENS:
            label = " > ".join(path[len(parent):])
            label = label if label.endswith((":", "?")) else f"{label}:"  # "Why?" stays "Why?"
            # Chunks take their section from the group's path; the blocks' own is not read again.
            out[-1][1].extend([TextBlock(section=parent, text=label), *blocks])
            continue
        out.append((path, list(blocks)))
    return out


def fence_code(code: str, budget: int, count: TokenCounter) -> list[str]:
    """A code block as fenced units, one per paragraph; a paragraph over ``budget`` tokens is
    packed line by line (:func:`pack_units`, as prose is) into several.

    Kept fenced so that whoever reads a chunk can tell a configuration example from prose: the
    extractive answer quotes it as a block under the sentence that introduces it, a model sees
    it as code, and a block split across chunks never leaves half a fence in either. The units
    are the ones plain text gets (paragraphs), so chunk boundaries do not move with the fences."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", code.strip("\n")):
        lines = [line.rstrip() for line in paragraph.splitlines() if line.strip()]
        if lines:
            out.extend(f"{FENCE}\n{piece}\n{FENCE}" for piece in pack_units(lines, budget, count, joiner="\n"))
    return out


_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")


def table_units(table: str, budget: int, count: TokenCounter) -> list[str]:
    """A table as units of whole rows on consecutive lines, each within ``budget`` and under the
    table's header row when it has one (a first line followed by a ``--- | ---`` rule): a piece of
    a long table read on its own (a passage, a quoted answer) still says which column is which.
    A one-column table's rows are paragraphs: nothing marks where one ends and the next begins."""
    lines = [line for line in table.split("\n") if line.strip()]
    if not any(" | " in line for line in lines):
        return lines  # one column (a DocBook function table): each row reads as a paragraph of its own
    if count(["\n".join(lines)])[0] <= budget:
        return ["\n".join(lines)]
    header = lines[:2] if len(lines) > 2 and _TABLE_RULE.match(lines[1]) else []
    room = budget - (count(["\n".join(header)])[0] + 1 if header else 0)
    if header and room < budget // 2:  # a header as long as the rows: the rows alone
        header, room = [], budget
    return ["\n".join([*header, piece]) for piece in pack_units(lines[len(header):], room, count, joiner="\n")]


def for_embedding(text: str) -> str:
    """``text`` as its vector reads it: without code fences and table header rules."""
    text = unfenced(text)
    if "---" not in text:
        return text
    return "\n".join(line for line in text.splitlines() if not _TABLE_RULE.match(line))


def unfenced(text: str) -> str:
    """``text`` without its fence lines: the vector reads the code, not the markers around it."""
    if FENCE not in text:
        return text
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(FENCE))


def ticket_turn_text(part: TicketPart) -> str:
    return f"{turn_label(ROLE_LABEL[part.role], part.visibility == 'internal')} {part.text.strip()}"


def chunk_ticket(ticket: Ticket, params: ChunkParams, count: TokenCounter) -> list[Chunk]:
    """One ticket → chunks at turn boundaries.

    Internal notes never enter a public chunk: in a public ticket source they become separate
    internal-audience chunks.
    """
    doc_key = f"{ticket.source}:{ticket.id}"
    title = f"Ticket {ticket.id}: {ticket.subject}".strip()
    metadata = {
        "ticket_id": ticket.id, "status": ticket.status, "tags": list(ticket.tags),
        "created": ticket.created.isoformat() if ticket.created else None,
        "updated": ticket.updated.isoformat() if ticket.updated else None,
    }
    groups: dict[Audience, list[TicketPart]] = {"public": [], "internal": []}
    for part in ticket.parts:
        if not part.text.strip():
            continue
        audience: Audience = "internal" if ticket.audience == "internal" or part.visibility == "internal" \
            else "public"
        groups[audience].append(part)
    chunks: list[Chunk] = []
    context = title
    for audience, parts in groups.items():
        if not parts:
            continue
        units = [ticket_turn_text(p) for p in parts]
        roles = [p.role for p in parts]
        budget = _budget(params, context, count)
        # Customer text is untrusted; a long turn may be split, so mark every chunk of a
        # conversation that contains customer text rather than guessing per line.
        untrusted = "customer" in roles
        for piece in pack_units(units, budget, count, overlap=0, joiner="\n"):
            chunks.append(_make_chunk(
                doc_key=doc_key, source=ticket.source, kind="ticket", audience=audience, title=title,
                section="", url=ticket.url, path=ticket.id, ordinal=len(chunks), text=piece, context=context,
                untrusted=untrusted, metadata={**metadata, "roles": sorted(set(roles))}, params=params,
                embed_body=readable_ticket(piece) or piece,
            ))
    return chunks


def _make_chunk(*, doc_key: str, source: str, kind: str, audience: Audience, title: str, section: str,
                url: str | None, path: str, ordinal: int, text: str, context: str, untrusted: bool,
                metadata: dict[str, object], params: ChunkParams, embed_body: str | None = None) -> Chunk:
    """``embed_body``: what the vector reads of ``text``, when not all of it (a ticket's courtesy)."""
    embed_text = f"{context}\n{for_embedding(text if embed_body is None else embed_body)}"
    digest = content_hash(params.model_id, embed_text)
    return Chunk(
        chunk_id=chunk_identity(doc_key, ordinal, digest), doc_key=doc_key, source=source,
        kind=kind,
        audience=audience, title=title, section=section, url=url, path=path, ordinal=ordinal, text=text,
        embed_text=embed_text, content_hash=digest, untrusted=untrusted, metadata=metadata,
    )
