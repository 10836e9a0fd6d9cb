"""The generation's table of word vectors (assistant/term_table.py) on the real model and the real
example index: the salience signal reads ordinary words from it instead of encoding them, with the
same values and decisions; ingest writes it for a large enough corpus and links it the next night."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant import generations, term_table
from assistant.factory import build_retriever

pytestmark = pytest.mark.integration

QUESTIONS = ("What Square Terminal setting turns on tipping when my clients pay in person?",
             "In Xero, how do I reconcile one bank statement line against two different bills?",
             "Prices on my site already include tax. How do I stop the double tax?")


class Vocabulary:
    """The real embedder, recording every text it is asked to encode beyond the question; given
    ``words``, a short vocabulary for the table to hold (the real one's takes ~10 s to encode)."""

    def __init__(self, inner: Any, words: set[str] | None = None) -> None:
        self.inner = inner
        self.words = frozenset(words) if words is not None else None
        self.encoded: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def known_words(self) -> frozenset[str]:
        return self.words if self.words is not None else self.inner.known_words()

    def encode(self, texts: list[str], **kw: Any) -> np.ndarray:
        self.encoded.extend(texts)
        return self.inner.encode(texts, **kw)

    def encode_soon(self, texts: list[str], **kw: Any) -> Any:
        self.encoded.extend(texts)
        return self.inner.encode_soon(texts, **kw)


def _always(settings: Any) -> Any:
    """Every signal measured, so each question's missing words are looked up."""
    return settings.model_copy(
        update={"retrieval": settings.retrieval.model_copy(update={"abstain_salience": "always"})})


@pytest.fixture()
def copied_index(example_index, tmp_path: Path) -> Any:
    """A copy of the example index that a test may add a table to."""
    shutil.copytree(example_index.data_dir, tmp_path / "data", symlinks=True)
    return example_index.model_copy(update={"data_dir": tmp_path / "data"})


def test_table_vectors_are_the_vectors_a_query_time_encode_gives(embedder, tmp_path: Path) -> None:
    words = {"tipping", "terminal", "square", "sourdough", "office", "refund"}
    meta = term_table.build(tmp_path, Vocabulary(embedder, words))
    assert meta == {"words": 6, "reused": False, "seconds": meta["seconds"], "sha256": term_table.digests(tmp_path)}
    table = term_table.TermTable.load(tmp_path)
    assert table is not None and "tipping" in table and "nginx" not in table
    found = table.lookup(["tipping", "nginx", "refund"])
    assert set(found) == {"tipping", "refund"}
    for word, vector in found.items():
        assert np.abs(vector - embedder.encode([word])[0]).max() < 1e-5


def test_salience_reads_the_table_and_decides_exactly_as_when_it_encodes(copied_index, embedder) -> None:
    settings = _always(copied_index)
    encoding = Vocabulary(embedder)
    before = {q: build_retriever(settings, embedder=encoding).search(q, audience="public") for q in QUESTIONS}
    missing = set(encoding.encoded)
    assert {"square", "tipping"} <= missing  # words the best passages lack, encoded one by one

    _, path = generations.resolve(settings.data_dir)
    term_table.build(path, Vocabulary(embedder, missing))
    reading = Vocabulary(embedder)
    retriever = build_retriever(settings, embedder=reading)
    for question in QUESTIONS:
        after = retriever.search(question, audience="public")
        assert after.abstain is before[question].abstain
        assert after.evidence.keys() == before[question].evidence.keys()
        assert all(abs(after.evidence[k] - before[question].evidence[k]) <= 1e-5 for k in after.evidence)
    # Every word the signal needed came from the table; only a speculative encode of a question word
    # the table lacks (started before the search knows which words are missing) may still run.
    assert not set(reading.encoded) & missing


def test_a_word_the_table_lacks_is_still_encoded(copied_index, embedder) -> None:
    settings = _always(copied_index)
    _, path = generations.resolve(settings.data_dir)
    term_table.build(path, Vocabulary(embedder, {"tipping"}))
    reading = Vocabulary(embedder)
    result = build_retriever(settings, embedder=reading).search(QUESTIONS[0], audience="public")
    assert "square" in reading.encoded and "tipping" not in reading.encoded
    assert result.abstain is True and result.evidence["salient_missing"] > 0


def test_an_unreadable_table_is_ignored_and_the_words_are_encoded(copied_index, embedder) -> None:
    settings = _always(copied_index)
    _, path = generations.resolve(settings.data_dir)
    term_table.build(path, Vocabulary(embedder, {"square", "tipping"}))
    (path / term_table.WORDS_FILE).write_text("square\n", encoding="utf-8")  # one word for two vectors
    reading = Vocabulary(embedder)
    result = build_retriever(settings, embedder=reading).search(QUESTIONS[0], audience="public")
    assert {"square", "tipping"} <= set(reading.encoded) and result.abstain is True


def test_ingest_writes_the_table_then_links_it_from_the_last_generation(tmp_path: Path, embedder) -> None:
    from assistant.config import Settings
    from ingest.jobs import run_ingest
    from tests.conftest import EXAMPLE_SOURCES

    words = {"tipping", "square", "sourdough"}
    settings = Settings(data_dir=tmp_path / "data", _env_file=None, retrieval={"term_table_min_chunks": 0})
    first = run_ingest(settings, EXAMPLE_SOURCES, embedder=Vocabulary(embedder, words))
    _, one = generations.resolve(settings.data_dir)
    assert first.published and "term_vectors" in first.timings
    assert generations.read_manifest(one)["term_vectors"]["reused"] is False

    second = run_ingest(settings, EXAMPLE_SOURCES, embedder=Vocabulary(embedder, words))
    _, two = generations.resolve(settings.data_dir)
    assert second.published and two != one
    linked, encoded = generations.read_manifest(two)["term_vectors"], generations.read_manifest(one)["term_vectors"]
    assert linked == {"words": 3, "reused": True, "seconds": linked["seconds"], "sha256": encoded["sha256"]}
    assert set(encoded["sha256"]) == {term_table.VECTORS_FILE, term_table.WORDS_FILE}
    assert (two / term_table.VECTORS_FILE).stat().st_ino == (one / term_table.VECTORS_FILE).stat().st_ino

    small = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(
        update={"term_table_min_chunks": 10**6}), "data_dir": tmp_path / "small"})
    run_ingest(small, EXAMPLE_SOURCES, embedder=Vocabulary(embedder, words))
    _, path = generations.resolve(small.data_dir)
    assert not (path / term_table.VECTORS_FILE).exists()  # a corpus under the bound goes without
