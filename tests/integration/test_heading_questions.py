"""FAQ entries are also searched by their heading's question alone (question_heading_weight).

An FAQ answer rarely repeats its question's words: "Desktop browsers accept our certificate, but
some phones complain they can't verify it" is close to the entry's question ("Why do browsers
complain that they cannot verify my server certificate?") and far from its answer (a missing
intermediate CA bundle). Real ingest, real embedding model, real FAISS and SQLite files.
"""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import numpy as np
import pytest

from assistant.chunkdb import heading_question
from assistant.config import Settings
from assistant.index import LoadedGeneration
from ingest.jobs import run_ingest

pytestmark = pytest.mark.integration

QUESTION = "Desktop browsers accept our certificate, but some phones and curl complain they can't verify it."
FAQ_HEADING = "Why do browsers complain that they cannot verify my server certificate?"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    _write(root / "docs/ssl-faq.md", f"""
        # TLS questions

        ## Certificates

        ### {FAQ_HEADING}

        The chain file from your issuer is missing. Install the intermediate CA bundle it sent with
        SSLCertificateChainFile, then reload the server.

        ### How do I create a self-signed certificate for testing?

        Run openssl req -new -x509 -nodes -out server.crt -keyout server.key and point the server at both files.
        """)
    _write(root / "docs/certificates.md", """
        # Certificates explained

        A certificate binds a public key to a name. Clients such as browsers and phones check it against
        the authorities they trust.

        ## Renewal

        Certificates expire; renew them before the date printed in the certificate.
        """)
    _write(root / "sources.yaml", """
        sources:
          - name: help
            type: documents
            path: docs
            audience: public
        """)
    return root


def test_a_heading_that_asks_a_question_is_that_chunks_question() -> None:
    assert heading_question("TLS questions", f"Certificates > {FAQ_HEADING}") == FAQ_HEADING
    assert heading_question("How do I reset my password?", "") == "How do I reset my password?"
    assert heading_question("How do I reset my password?", "Steps") is None  # the page's other sections
    assert heading_question("Certificates explained", "Renewal") is None


def test_an_faq_entry_scores_by_its_question_as_well_as_its_answer(tmp_path: Path, corpus: Path, embedder) -> None:
    settings = Settings(data_dir=tmp_path / "var", _env_file=None)
    assert run_ingest(settings, corpus / "sources.yaml", embedder=embedder).published
    generation = LoadedGeneration(settings.data_dir)
    rows = {r[1]: r[0] for r in generation.db.db.execute("SELECT id, section FROM chunks")}
    entry = rows[f"Certificates > {FAQ_HEADING}"]
    query = embedder.encode_query(QUESTION)
    plain = dict(generation.dense_search("public", query, 10))
    boosted = dict(generation.dense_search("public", query, 10, question_weight=0.5))
    chunk_vector = generation.stored([entry])[entry].vector
    heading = embedder.encode([FAQ_HEADING])[0]
    expected = max(float(chunk_vector @ query), 0.5 * float(chunk_vector @ query) + 0.5 * float(heading @ query))
    assert boosted[entry] == pytest.approx(expected, abs=1e-5)
    assert boosted[entry] > plain[entry]  # the question is far closer than the answer
    assert max(boosted, key=boosted.__getitem__) == entry
    assert max(plain, key=plain.__getitem__) != entry  # by its answer alone, the explainer page wins
    others = [row for section, row in rows.items() if not section.endswith("?")]
    assert others and all(boosted[row] == pytest.approx(plain[row]) for row in others)  # no question: as before
    generation.close()


def test_an_index_written_before_heading_questions_loads_and_the_next_run_fills_them(
        tmp_path: Path, corpus: Path, embedder) -> None:
    settings = Settings(data_dir=tmp_path / "var", _env_file=None)
    assert run_ingest(settings, corpus / "sources.yaml", embedder=embedder).published
    old = LoadedGeneration(settings.data_dir)
    path = old.db.path
    old.close()
    with sqlite3.connect(path) as db:  # as an earlier release wrote it
        db.execute("DROP INDEX chunks_question")
        db.execute("ALTER TABLE chunks DROP COLUMN question_vector")
    earlier = LoadedGeneration(settings.data_dir)
    query = embedder.encode_query(QUESTION)
    assert earlier.dense_search("public", query, 5, question_weight=0.5) == earlier.dense_search("public", query, 5)
    earlier.close()

    report = run_ingest(settings, corpus / "sources.yaml", embedder=embedder)  # nothing changed: all copied
    assert report.published and report.chunks.reused == report.chunks.total
    refilled = LoadedGeneration(settings.data_dir)
    ids, chunk_vectors, question_vectors = refilled.db.heading_questions("public")
    assert len(ids) == 2 and chunk_vectors.shape == question_vectors.shape == (2, embedder.dimension)
    refilled.close()
    copied = run_ingest(settings, corpus / "sources.yaml", embedder=embedder)  # copied with the vectors now
    assert copied.published
    again = LoadedGeneration(settings.data_dir)
    assert np.array_equal(again.db.heading_questions("public")[2], question_vectors)
    again.close()
