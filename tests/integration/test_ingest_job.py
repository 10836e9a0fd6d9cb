"""The ingestion job end to end: real loaders, real embedding model, real FAISS and SQLite files."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from assistant import generations
from assistant.chunkdb import ChunkDB
from assistant.config import Settings
from assistant.errors import LockedError, ModelMismatchError
from assistant.index import LoadedGeneration
from ingest.jobs import IngestAborted, run_ingest

pytestmark = pytest.mark.integration

CANARY = "CANARY-TEST-INTERNAL-5D1E"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def _zendesk(tickets: list[dict]) -> str:
    users = [{"id": 1, "name": "Maria Keller", "email": "maria@example.com", "role": "end-user"},
             {"id": 2, "name": "Sam Agent", "email": "sam@ledgerly.example", "role": "agent"}]
    return json.dumps({"tickets": tickets, "users": users, "next_page": None})


def _ticket(i: int, status: str = "solved", note: str | None = None) -> dict:
    comments = [
        {"id": i * 10, "type": "Comment", "author_id": 1, "public": True, "created_at": "2026-01-05T10:00:00Z",
         "body": f"Hi, I am Maria Keller. My card 4242 4242 4242 4242 was charged twice for invoice {i}. "
                 "Call me at +1 415-555-0134 or write to maria@example.com."},
        {"id": i * 10 + 1, "type": "Comment", "author_id": 2, "public": True, "created_at": "2026-01-05T11:00:00Z",
         "body": "Hi Maria, we refunded the duplicate charge; it reaches your card in 5-10 business days."},
    ]
    if note:
        comments.append({"id": i * 10 + 2, "type": "Comment", "author_id": 2, "public": False,
                         "created_at": "2026-01-05T11:05:00Z", "body": note})
    return {"id": i, "subject": f"Charged twice for invoice {i}", "description": comments[0]["body"],
            "status": status, "requester_id": 1, "assignee_id": 2, "tags": ["billing", "refund"],
            "created_at": "2026-01-05T10:00:00Z", "updated_at": "2026-01-06T10:00:00Z", "comments": comments}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    for n in range(6):
        _write(root / "docs/public" / f"article-{n}.md", f"""
            # Article {n} about invoices

            ## Sending
            Invoice topic {n}: open Invoices, choose the client and click Send. Reminders go out after {n + 3} days.

            ## Paying
            Clients pay invoice {n} by card or ACH from the client portal.
            """)
    _write(root / "docs/internal/runbook.md", f"""
        # Refund approvals

        Agents may approve refunds up to $500. Escalation code {CANARY}.
        """)
    tickets = [_ticket(i) for i in range(1, 6)] + [_ticket(6, status="open"),
                                                   _ticket(7, note=f"Internal: approved with {CANARY}")]
    _write(root / "exports/zendesk.json", _zendesk(tickets))
    _write(root / "sources.yaml", """
        sources:
          - name: help-center
            type: documents
            path: docs/public
            audience: public
            url_base: https://help.example.com/
          - name: runbooks
            type: documents
            path: docs/internal
            audience: internal
          - name: zendesk-export
            type: zendesk
            path: exports/zendesk.json
            audience: internal
        """)
    return root


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", _env_file=None)


def _ingest(settings: Settings, corpus: Path, embedder):
    return run_ingest(settings, corpus / "sources.yaml", embedder=embedder)


def test_first_run_publishes_a_complete_generation(settings, corpus, embedder):
    report = _ingest(settings, corpus, embedder)
    assert report.published and report.generation == generations.current_id(settings.data_dir)
    assert report.documents.added == 7 and report.tickets.added == 6 and report.tickets.skipped == 1
    assert report.chunks.embedded == report.chunks.total > 0 and report.chunks.reused == 0
    gen = LoadedGeneration(settings.data_dir, model_id=embedder.model_id)
    assert gen.manifest["embedding"] == {"model": embedder.model_id, "dimension": 384, "normalized": True,
                                         "max_tokens": 256}
    assert gen.size("public") == report.audiences["public"] and gen.size("internal") == report.audiences["internal"]
    for name in ("manifest.json", "chunks.sqlite", "public.faiss", "internal.faiss"):
        assert (gen.path / name).is_file()


def test_public_partition_holds_no_internal_text(settings, corpus, embedder):
    _ingest(settings, corpus, embedder)
    gen = LoadedGeneration(settings.data_dir)
    public = list(gen.db.iter_chunks("public"))
    assert public and all(c.audience == "public" and c.source == "help-center" for c in public)
    assert all(CANARY not in c.text for c in public)
    hits = gen.keyword_search("public", CANARY, 50) + gen.keyword_search("public", "approved refunds escalation", 50)
    assert all(c.audience == "public" for c in gen.chunks([i for i, _ in hits]).values())
    query = embedder.encode_query(f"escalation code {CANARY}")
    dense = gen.dense_search("public", query, 100)
    assert len(dense) == gen.size("public")
    assert all(c.audience == "public" for c in gen.chunks([i for i, _ in dense]).values())
    internal_ids = [i for i, _ in gen.keyword_search("internal", CANARY, 10)]
    assert any(CANARY in c.text for c in gen.chunks(internal_ids).values())


def test_ticket_pii_is_redacted_before_storage(settings, corpus, embedder):
    report = _ingest(settings, corpus, embedder)
    assert report.redactions.get("card", 0) >= 6 and report.redactions.get("email", 0) >= 6
    assert report.redactions.get("phone", 0) >= 6 and report.redactions.get("name", 0) >= 6
    raw = (Path(generations.resolve(settings.data_dir)[1]) / "chunks.sqlite").read_bytes()
    for secret in (b"4242 4242 4242 4242", b"maria@example.com", b"415-555-0134", b"Maria Keller"):
        assert secret not in raw


def test_second_run_with_nothing_changed_embeds_nothing(settings, corpus, embedder):
    first = _ingest(settings, corpus, embedder)
    second = _ingest(settings, corpus, embedder)
    assert second.published and second.generation != first.generation
    assert second.chunks.embedded == 0 and second.chunks.reused == second.chunks.total == first.chunks.total
    assert second.documents.unchanged == 7 and second.tickets.unchanged == 6
    assert second.documents.added == second.documents.updated == second.documents.removed == 0


def test_editing_one_document_reembeds_only_its_changed_chunks(settings, corpus, embedder):
    _ingest(settings, corpus, embedder)
    path = corpus / "docs/public/article-2.md"
    path.write_text(path.read_text().replace("Reminders go out after 5 days.", "Reminders go out after 9 days."))
    report = _ingest(settings, corpus, embedder)
    assert report.documents.updated == 1 and report.documents.unchanged == 6
    assert 1 <= report.chunks.embedded <= 2
    gen = LoadedGeneration(settings.data_dir)
    texts = [c.text for c in gen.db.iter_chunks("public") if c.path == "article-2.md"]
    assert any("after 9 days" in t for t in texts) and not any("after 5 days" in t for t in texts)


def test_deleted_document_disappears_from_the_index(settings, corpus, embedder):
    _ingest(settings, corpus, embedder)
    (corpus / "docs/public/article-4.md").unlink()
    report = _ingest(settings, corpus, embedder)
    assert report.documents.removed == 1
    gen = LoadedGeneration(settings.data_dir)
    assert not [c for c in gen.db.iter_chunks() if c.path == "article-4.md"]
    hits = gen.keyword_search("public", "invoice topic", 50)
    assert hits and all(c.path != "article-4.md" for c in gen.chunks([i for i, _ in hits]).values())


def test_a_page_that_only_lists_other_pages_is_skipped_not_failed(settings, corpus, embedder):
    """A book's index or a chapter's bare table of contents answers nothing: ingest skips it (counted
    ``skipped``, no failure) and the pages it lists are what the index holds."""
    entries = "".join(f'<dt>invoice topic {i}, <a href="article-{i}.md">Article {i}</a></dt>' for i in range(24))
    _write(corpus / "docs/public/genindex.html", f"<html><body><h1>Index</h1><dl>{entries}</dl></body></html>")
    report = _ingest(settings, corpus, embedder)
    assert report.documents.skipped == 1 and report.documents.failed == 0 and not report.failures
    gen = LoadedGeneration(settings.data_dir)
    assert not [c for c in gen.db.iter_chunks() if c.path == "genindex.html"]
    again = _ingest(settings, corpus, embedder)  # still skipped, not "removed" or failed, on the next run
    assert (again.documents.skipped, again.documents.removed, again.documents.failed) == (1, 0, 0)


def _paths(settings: Settings, audience: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for chunk in LoadedGeneration(settings.data_dir).db.iter_chunks(audience):
        found.setdefault(chunk.path, []).append(chunk.text)
    return found


def test_a_document_that_fails_to_load_keeps_its_last_good_chunks(settings, corpus, embedder):
    first = _ingest(settings, corpus, embedder)
    article = corpus / "docs/public/article-3.md"
    good = article.read_text()
    article.write_bytes(b"")  # half-copied at 2 am
    report = _ingest(settings, corpus, embedder)
    assert report.published
    assert (report.documents.failed, report.documents.kept_stale, report.documents.removed) == (1, 1, 0)
    assert [Path(f.path).name for f in report.failures] == ["article-3.md"]
    assert report.audiences == first.audiences and report.chunks.embedded == 0
    assert any("Reminders go out after 6 days" in t for t in _paths(settings, "public")["article-3.md"])
    hits = LoadedGeneration(settings.data_dir).keyword_search("public", "invoice 3 client portal", 10)
    assert hits, "the stale article is still searchable"
    # it loads again: updated from the new text, nothing stale any more
    article.write_text(good.replace("after 6 days", "after 8 days"))
    healed = _ingest(settings, corpus, embedder)
    assert (healed.documents.updated, healed.documents.kept_stale, healed.documents.failed) == (1, 0, 0)
    assert any("after 8 days" in t for t in _paths(settings, "public")["article-3.md"])
    # and when it is really deleted, it goes
    article.unlink()
    gone = _ingest(settings, corpus, embedder)
    assert (gone.documents.removed, gone.documents.kept_stale) == (1, 0)
    assert "article-3.md" not in _paths(settings, "public")


def test_a_ticket_export_that_fails_to_parse_keeps_the_previous_tickets(settings, corpus, embedder):
    first = _ingest(settings, corpus, embedder)
    export = corpus / "exports/zendesk.json"
    good = export.read_text()
    export.write_text(good[: len(good) // 2])  # cut short: not JSON any more
    report = _ingest(settings, corpus, embedder)
    assert report.published
    assert (report.tickets.failed, report.tickets.kept_stale, report.tickets.removed) == (1, 6, 0)
    assert report.failures[0].path.endswith("zendesk.json") and "invalid JSON" in report.failures[0].reason
    assert report.audiences == first.audiences
    export.write_text(good)
    healed = _ingest(settings, corpus, embedder)
    assert (healed.tickets.unchanged, healed.tickets.kept_stale, healed.tickets.failed) == (6, 0, 0)


def test_a_broken_ticket_keeps_its_last_version_while_a_deleted_one_goes(settings, corpus, embedder):
    _ingest(settings, corpus, embedder)
    export = corpus / "exports/zendesk.json"
    data = json.loads(export.read_text())
    data["tickets"] = [t for t in data["tickets"] if t["id"] != 5]  # really deleted
    broken = next(t for t in data["tickets"] if t["id"] == 2)
    broken["comments"] = "not a list"  # still names its ticket
    export.write_text(json.dumps(data))
    report = _ingest(settings, corpus, embedder)
    assert (report.tickets.failed, report.tickets.kept_stale, report.tickets.removed) == (1, 1, 1)
    assert report.tickets.unchanged == 4
    assert report.failures[0].row == 2
    keys = {c.path for c in LoadedGeneration(settings.data_dir).db.iter_chunks("internal")}
    assert "2" in keys and "5" not in keys


def test_an_emptied_documents_folder_is_a_failure_not_a_deletion(settings, corpus, embedder):
    first = _ingest(settings, corpus, embedder)
    runbook = corpus / "docs/internal/runbook.md"
    runbook.rename(corpus / "runbook.md.bak")  # e.g. the share was not mounted
    report = _ingest(settings, corpus, embedder)
    assert (report.documents.failed, report.documents.kept_stale, report.documents.removed) == (1, 1, 0)
    assert "no files found" in report.failures[0].reason
    assert report.audiences == first.audiences


def test_bad_inputs_are_skipped_with_path_row_and_reason(settings, corpus, embedder):
    public = corpus / "docs/public"
    (public / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nthis is not a real pdf")
    (public / "latin.txt").write_bytes("Caf\xe9 cr\xe8me \xff\xfe".encode("latin-1"))
    (public / "empty.md").write_text("")
    (public / "huge.txt").write_text("big file line\n" * 200_000)  # ~2.8 MB, over the 1 MB limit below
    tickets = json.loads((corpus / "exports/zendesk.json").read_text())
    tickets["tickets"].append({"subject": "no id and no comments", "status": "solved"})
    (corpus / "exports/zendesk.json").write_text(json.dumps(tickets))
    settings.index.max_file_mb = 1
    settings.index.max_failure_ratio = 0.5  # 5 bad inputs among 18: still publish
    report = _ingest(settings, corpus, embedder)
    assert report.published
    failed = {Path(f.path).name: f for f in report.failures}
    assert set(failed) >= {"broken.pdf", "latin.txt", "empty.md", "huge.txt", "zendesk.json"}
    assert failed["zendesk.json"].row == 8
    assert "MB" in failed["huge.txt"].reason
    assert all(f.reason for f in report.failures)
    assert report.documents.added == 7 and report.tickets.added == 6


def test_too_many_failures_publish_nothing(settings, corpus, embedder):
    first = _ingest(settings, corpus, embedder)
    for n in range(6):
        (corpus / f"docs/public/article-{n}.md").write_bytes(b"\x80\x81\xfa" * 10)
    with pytest.raises(IngestAborted, match="nothing was published"):
        _ingest(settings, corpus, embedder)
    assert generations.current_id(settings.data_dir) == first.generation
    assert not list((settings.data_dir / "generations").glob(".staging-*"))
    stored = sorted((settings.data_dir / "reports").glob("*-failed.json"))
    assert stored and json.loads(stored[-1].read_text())["published"] is False


def test_a_second_run_is_refused_while_one_holds_the_lock(settings, corpus, embedder):
    with generations.ingest_lock(settings.data_dir), pytest.raises(LockedError, match="in progress"):
        _ingest(settings, corpus, embedder)


def test_rollback_and_pruning_keep_the_last_generations(settings, corpus, embedder):
    settings.index.keep_generations = 2
    ids = []
    for n in range(3):
        (corpus / "docs/public/article-0.md").write_text(f"# Article zero\n\nVersion {n} of this text.\n")
        ids.append(_ingest(settings, corpus, embedder).generation)
    kept = [g.id for g in generations.list_generations(settings.data_dir)]
    assert kept == [ids[2], ids[1]]
    assert generations.rollback(settings.data_dir) == ids[1]
    assert LoadedGeneration(settings.data_dir).id == ids[1]
    assert generations.rollback(settings.data_dir, ids[2]) == ids[2]


def test_an_index_built_with_another_model_is_refused(settings, corpus, embedder):
    _ingest(settings, corpus, embedder)
    with pytest.raises(ModelMismatchError, match="built with embedding model"):
        LoadedGeneration(settings.data_dir, model_id="intfloat/e5-small-v2")


def _cli(args: list[str], data_dir: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "assistant.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_cli_json_report_is_the_last_stdout_line(settings, corpus):
    proc = _cli(["ingest", "--config", str(corpus / "sources.yaml"), "--json"], settings.data_dir)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    for key in ("generation", "published", "documents", "tickets", "chunks", "failures", "seconds"):
        assert key in report
    assert set(report["documents"]) >= {"added", "updated", "removed", "unchanged", "failed"}
    assert set(report["chunks"]) == {"embedded", "reused", "total", "boilerplate"}
    assert report["published"] is True and report["generation"]


def test_cli_json_run_logs_its_progress_on_stderr(settings, corpus):
    """Every deploy file (crontab, systemd, Kubernetes, compose) runs the nightly job with --json and
    keeps stderr as its log: with --json that log was silent until the end, a long embedding included."""
    proc = _cli(["ingest", "--config", str(corpus / "sources.yaml"), "--json"], settings.data_dir)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "reading " in err and "embedding" in err
    assert json.loads(out.strip().splitlines()[-1])["published"] is True
    assert all(line.startswith("{") for line in out.strip().splitlines())  # stdout holds the report alone


def _open_when_read(fifo: Path, proc: subprocess.Popen) -> int:
    """Open ``fifo`` for writing as soon as the run has opened it for reading; from then on the run
    waits in ``read()`` for data that never comes, so it cannot get any further until signalled."""
    deadline = time.monotonic() + 300
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:  # ENXIO: nobody has it open for reading yet
            if exc.errno != errno.ENXIO:
                raise
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never reached the file"
        time.sleep(0.01)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_killing_a_run_midway_leaves_the_previous_generation_serving(settings, corpus, embedder, sig):
    """Deterministic on any machine: the signal is sent while the run is provably mid-way, reading a
    file that is still being copied (a named pipe whose writer is this test), with new documents
    already loaded and a staging directory on disk. No sleeps, no race with a fast run."""
    first = _ingest(settings, corpus, embedder)
    for n in range(20):
        _write(corpus / "docs/public/more" / f"extra-{n}.md",
               "# Extra\n\n" + " ".join(f"Extra article {n} sentence {i} about payouts." for i in range(150)))
    still_copying = corpus / "docs/public/zz-still-copying.md"  # listed last: read after the others
    os.mkfifo(still_copying)
    proc = _cli(["ingest", "--config", str(corpus / "sources.yaml"), "--quiet"], settings.data_dir)
    try:
        writer = _open_when_read(still_copying, proc)
        try:
            assert list((settings.data_dir / "generations").glob(".staging-*")), "the run is building a generation"
            proc.send_signal(sig)
            _out, err = proc.communicate(timeout=120)
        finally:
            os.close(writer)
    finally:
        if proc.poll() is None:  # a failed assertion above must not leave a run waiting on the pipe
            proc.kill()
            proc.communicate()
    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 128 + sig), err
    assert generations.current_id(settings.data_dir) == first.generation
    assert LoadedGeneration(settings.data_dir).size("public") == first.audiences["public"]
    if sig != signal.SIGKILL:  # a clean stop removes its own staging directory and says so
        assert not list((settings.data_dir / "generations").glob(".staging-*"))
        assert "nothing was published" in err and "Traceback" not in err
        stored = [json.loads(p.read_text()) for p in (settings.data_dir / "reports").glob("*-failed.json")]
        assert [r["published"] for r in stored] == [False] and "interrupted" in stored[0]["message"]
    still_copying.unlink()
    shutil.rmtree(corpus / "docs/public/more")
    again = _ingest(settings, corpus, embedder)  # and nothing left behind breaks the next run
    assert again.published and not list((settings.data_dir / "generations").glob(".staging-*"))


class _InterruptAtEmbedding:
    """Progress that delivers a stop signal as embedding starts, as the CLI's handler would."""

    def __init__(self, interrupts) -> None:
        self.interrupts = interrupts

    def start(self, phase: str, total: int | None) -> None:
        if phase == "embedding":
            self.interrupts.handle(signal.SIGTERM)

    def advance(self, done: int) -> None:
        pass


def test_an_interrupt_while_embedding_discards_the_staging_directory(settings, corpus, embedder):
    from ingest.interrupts import Interrupts

    first = _ingest(settings, corpus, embedder)
    _write(corpus / "docs/public/new.md", "# New\n\nA new article about payout schedules and bank holidays.")
    interrupts = Interrupts()
    with pytest.raises(KeyboardInterrupt):
        run_ingest(settings, corpus / "sources.yaml", embedder=embedder,
                   progress=_InterruptAtEmbedding(interrupts), interrupts=interrupts)
    assert generations.current_id(settings.data_dir) == first.generation
    assert not list((settings.data_dir / "generations").glob(".staging-*"))
    assert interrupts.exit_code == 143


class _SwallowedInterrupt:
    """Progress that delivers a stop signal as embedding starts and swallows the KeyboardInterrupt,
    as a careless ``except BaseException`` in a library would."""

    def __init__(self, interrupts) -> None:
        self.interrupts = interrupts

    def start(self, phase: str, total: int | None) -> None:
        if phase == "embedding":
            with contextlib.suppress(KeyboardInterrupt):
                self.interrupts.handle(signal.SIGINT)

    def advance(self, done: int) -> None:
        pass


def test_a_swallowed_interrupt_still_stops_the_run_before_publishing(settings, corpus, embedder):
    from ingest.interrupts import Interrupts

    first = _ingest(settings, corpus, embedder)
    _write(corpus / "docs/public/new.md", "# New\n\nA new article about payout schedules and bank holidays.")
    interrupts = Interrupts()
    reports = []
    with pytest.raises(KeyboardInterrupt):
        run_ingest(settings, corpus / "sources.yaml", embedder=embedder, progress=_SwallowedInterrupt(interrupts),
                   interrupts=interrupts, on_abort=reports.append)
    assert generations.current_id(settings.data_dir) == first.generation
    assert not list((settings.data_dir / "generations").glob(".staging-*"))
    assert [g.id for g in generations.list_generations(settings.data_dir)] == [first.generation]
    assert reports[0].published is False and reports[0].generation is None
    assert "interrupted" in reports[0].message


def test_example_corpus_ingests_cleanly(example_index):
    gen = LoadedGeneration(example_index.data_dir)
    report = gen.manifest["report"]
    assert report["failures"] == []
    assert report["tickets"]["added"] >= 250 and report["tickets"]["skipped"] >= 20
    assert report["documents"]["added"] >= 35
    for canary in ("CANARY-INTERNAL-RUNBOOK-4F7A", "CANARY-INTERNAL-TICKET-9B2C"):
        public = gen.chunks([i for i, _ in gen.keyword_search("public", canary, 50)])
        assert all(canary not in c.text and c.audience == "public" for c in public.values())
        internal = gen.chunks([i for i, _ in gen.keyword_search("internal", canary, 10)])
        assert any(canary in c.text for c in internal.values())
    db = ChunkDB(gen.path / "chunks.sqlite")
    assert all("4242 4242 4242 4242" not in c.text for c in db.iter_chunks("internal"))


def test_text_repeated_on_many_pages_is_searchable_once(tmp_path, embedder):
    """A block every page of a manual repeats ("Bugfix checklist: httpd changelog, Known issues, Report
    a bug" on 132 of the Apache manual's pages) is one chunk per page: a question about it filled the
    candidates with copies, and every page it sits on scored from it. From boilerplate_docs documents on,
    one copy stays in the search indexes; the rows stay stored, so the count holds across runs."""
    root = tmp_path / "kb"
    for n in range(6):
        _write(root / "docs" / f"page-{n}.md", f"""
            # Page {n}

            ## Topic {n}
            Page {n} explains widget number {n} and its {n + 2} settings in some detail.

            ## Bugfix checklist
            Changelog, known issues, report a bug to the tracker.
            """)
    _write(root / "sources.yaml", """
        sources:
          - name: manual
            type: documents
            path: docs
            audience: public
        """)
    settings = Settings(data_dir=tmp_path / "var", index={"boilerplate_docs": 5}, _env_file=None)
    first = _ingest(settings, root, embedder)
    assert first.chunks.boilerplate == 5
    gen = LoadedGeneration(settings.data_dir)
    stored = [c for c in gen.db.iter_chunks("public") if "report a bug" in c.text]
    assert len(stored) == 6  # all stored ...
    assert len(gen.keyword_search("public", "tracker", 50)) == 1  # ... one searchable
    assert gen.size("public") == first.audiences["public"] == first.chunks.total == gen.db.partition_size("public")
    assert first.chunks.total == len(list(gen.db.iter_chunks("public"))) - 5
    gen.close()

    again = _ingest(settings, root, embedder)  # unchanged pages are copied, with their repeated block
    assert again.chunks.boilerplate == 5 and again.chunks.total == first.chunks.total
    for n in (4, 5):
        (root / "docs" / f"page-{n}.md").unlink()
    fewer = _ingest(settings, root, embedder)  # on 4 pages now, under the bar: each page keeps its own
    assert fewer.chunks.boilerplate == 0
    gen = LoadedGeneration(settings.data_dir)
    assert len(gen.keyword_search("public", "tracker", 50)) == 4
    gen.close()
