"""Ticket -> article drafts: a planted recurring ticket topic the public help lacks yields a draft,
a person approves it, and the next ingest makes it searchable; nothing else is published."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import typer
import yaml
from typer.testing import CliRunner

from assistant.commands import drafts as drafts_command
from assistant.config import Settings
from assistant.drafts import Draft, DraftError, DraftStore, mine_drafts
from assistant.errors import ConfigError
from assistant.insights import open_generation, vector_cache_for
from assistant.store import Store
from tests.integration.seeded import REPO, copy_index, make_store_module

pytestmark = pytest.mark.integration

PLANTED_IDS = {str(90_001 + i) for i in range(8)}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def _sources(root: Path, extra: list[dict[str, object]]) -> Path:
    """The example sources with absolute paths, plus ``extra`` entries."""
    base = REPO / "examples"
    entries = yaml.safe_load((base / "sources.yaml").read_text())["sources"]
    entries = [e for e in entries if not str(e["name"]).startswith("curated")]
    for entry in entries:
        entry["path"] = str((base / entry["path"]).resolve())
    path = root / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": entries + extra}))
    return path


@pytest.fixture(scope="module")
def mined(tmp_path_factory: pytest.TempPathFactory, example_index, embedder):
    """The example index plus the planted ticket topic (incremental ingest: only new tickets embed)."""
    from ingest.jobs import run_ingest

    root = tmp_path_factory.mktemp("drafts")
    settings = copy_index(example_index, root / "data")
    tickets = root / "planted-tickets.json"
    tickets.write_text(json.dumps(make_store_module().planted_tickets()))
    curated = root / "curated"
    for audience in ("public", "internal"):
        (curated / audience).mkdir(parents=True)
    sources = _sources(root, [
        {"name": "planted-tickets", "type": "zendesk", "path": str(tickets), "audience": "internal"},
        {"name": "curated-public", "type": "documents", "path": str(curated / "public"), "audience": "public"},
        {"name": "curated-internal", "type": "documents", "path": str(curated / "internal"), "audience": "internal"},
    ])
    report = run_ingest(settings, sources, embedder=embedder)
    assert report.published, report.message
    settings = Settings(data_dir=settings.data_dir, drafts={"curated_dir": curated}, _env_file=None)  # type: ignore[arg-type]
    store = DraftStore(Store(settings.store_path))
    generation = open_generation(settings, embedder)
    cfg = settings.drafts
    cache = vector_cache_for(settings)
    result = mine_drafts(generation, embedder, store, min_tickets=cfg.min_tickets,
                         coverage_threshold=cfg.coverage_threshold, cluster_distance=cfg.cluster_distance, cache=cache)
    return settings, sources, store, generation, result


def _planted_draft(drafts: list[Draft]) -> Draft:
    found = [d for d in drafts if {t["id"] for t in d.tickets} & PLANTED_IDS]
    assert len(found) == 1, [(d.title, [t["id"] for t in d.tickets]) for d in found]
    return found[0]


def test_a_planted_recurring_ticket_topic_yields_one_extractive_redacted_draft(mined, embedder) -> None:
    settings, _, store, generation, result = mined
    draft = _planted_draft(result.drafts)
    ids = {t["id"] for t in draft.tickets}
    assert ids <= PLANTED_IDS and len(ids) >= 6  # the whole topic, and nothing from other topics
    assert draft.coverage < settings.drafts.coverage_threshold
    assert "Reports > Time > Timesheet export" in draft.answer and "Export CSV" in draft.answer
    lines = draft.answer.splitlines()
    assert all(line.startswith("- ") for line in lines) and 2 <= len(lines) <= 6
    assert not any(line.endswith("?") or line.lower().startswith("- hi") for line in lines)
    everything = json.dumps(draft.to_dict())
    assert not EMAIL.search(everything) and "Robin" not in everything and "Customer 3" not in everything
    assert all(t["url"] and t["url"].endswith(t["id"]) for t in draft.tickets)
    assert store.get(draft.id).status == "pending"
    # every draft came from resolved tickets the public help covers poorly
    assert all(d.coverage < settings.drafts.coverage_threshold for d in result.drafts)
    assert result.covered > 0  # most recurring example topics are already documented

    again = mine_drafts(generation, embedder, store, min_tickets=settings.drafts.min_tickets,
                        coverage_threshold=settings.drafts.coverage_threshold,
                        cluster_distance=settings.drafts.cluster_distance, cache=vector_cache_for(settings))
    assert again.drafts == [] and again.already_drafted == len(result.drafts)


def test_approval_publishes_markdown_that_the_next_ingest_indexes(mined, embedder) -> None:
    from ingest.jobs import run_ingest

    settings, sources, store, _, _ = mined
    draft = _planted_draft(store.drafts("pending"))
    approved = store.approve(draft.id, audience="public", actor="Dana Lead", curated_dir=settings.drafts.curated_dir)
    assert approved.status == "approved" and approved.decided_by == "Dana Lead" and approved.decided_at
    assert [e["action"] for e in approved.events] == ["created", "approved"]
    path = Path(approved.path or "")
    assert path.parent == settings.drafts.curated_dir / "public" and path.suffix == ".md"
    text = path.read_text()
    assert text.startswith(f"# {draft.title}") and "Export CSV" in text
    assert "zendesk.com" not in text and "Source tickets" not in text  # public copies never link internal tickets
    with pytest.raises(DraftError, match="already approved"):
        store.reject(draft.id, actor="Someone Else")

    report = run_ingest(settings, sources, embedder=embedder)
    assert report.published and report.documents.added == 1
    generation = open_generation(settings, embedder)
    query = np.asarray(embedder.encode_query("How do I export my team's timesheets as CSV?"), dtype=np.float32)
    best_row, best_score = generation.dense_search("public", query, 1)[0]
    chunk = generation.chunks([best_row])[best_row]
    assert chunk.source == "curated-public" and chunk.title == draft.title
    assert best_score > draft.coverage
    generation.close()


def test_rejection_and_refusals_are_recorded_with_who_and_why(mined) -> None:
    settings, _, store, _, _ = mined
    pending = store.add(Draft(id="rej00001", status="pending", title="Some topic", question="Q?", answer="- A.",
                              tickets=[{"id": "1", "subject": "s", "url": None}], topic_size=3, coverage=0.3,
                              nearest_doc=None, created_at=1.0))
    with pytest.raises(DraftError, match="who made it"):
        store.reject(pending.id, actor="  ")
    rejected = store.reject(pending.id, actor="Dana Lead", reason="Covered by the new billing guide")
    assert (rejected.status, rejected.decided_by, rejected.reason) == ("rejected", "Dana Lead",
                                                                       "Covered by the new billing guide")
    assert [e["action"] for e in rejected.events] == ["created", "rejected"]
    with pytest.raises(DraftError, match="already rejected"):
        store.approve(pending.id, audience="public", actor="X", curated_dir=settings.drafts.curated_dir)
    other = store.add(Draft(id="noconf01", status="pending", title="T", question="Q?", answer="- A.", tickets=[],
                            topic_size=3, coverage=0.3, nearest_doc=None, created_at=2.0))
    with pytest.raises(ConfigError, match="No curated source"):
        store.approve(other.id, audience="public", actor="X", curated_dir=None)
    with pytest.raises(DraftError, match="No draft"):
        store.get("nope")
    assert store.get(other.id).status == "pending"


def test_drafts_command_list_show_approve_reject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    curated = tmp_path / "curated"
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASSISTANT_DRAFTS_CURATED_DIR", str(curated))
    store = DraftStore(Store(tmp_path / "data" / "store.sqlite"))
    for n in (1, 2):
        store.add(Draft(id=f"cli0000{n}", status="pending", title=f"Exporting timesheets {n}",
                        question="How do I export timesheets?", answer="- Open Reports > Time.",
                        tickets=[{"id": "90001", "subject": "Export", "url": "https://x.zendesk.com/agent/tickets/90001"}],
                        topic_size=4, coverage=0.31, nearest_doc="Expense tracking", created_at=float(n)))
    app = typer.Typer()
    drafts_command.register(app)
    app.command("noop", hidden=True)(lambda: None)
    run = CliRunner().invoke

    listed = run(app, ["drafts", "list", "--json"])
    assert listed.exit_code == 0 and [d["id"] for d in json.loads(listed.output)] == ["cli00002", "cli00001"]
    shown = run(app, ["drafts", "show", "cli00001"])
    assert shown.exit_code == 0 and "Exporting timesheets 1" in shown.output and "90001" in shown.output
    approved = run(app, ["drafts", "approve", "cli00001", "--audience", "internal", "--by", "Dana"])
    assert approved.exit_code == 0, approved.output
    written = list((curated / "internal").glob("*.md"))
    assert len(written) == 1 and "## Source tickets" in written[0].read_text()  # internal copies link tickets
    refused = run(app, ["drafts", "approve", "cli00002", "--audience", "everyone", "--by", "Dana"])
    assert refused.exit_code != 0
    rejected = run(app, ["drafts", "reject", "cli00002", "--reason", "duplicate", "--by", "Dana"])
    assert rejected.exit_code == 0 and "duplicate" in rejected.output
    after = json.loads(run(app, ["drafts", "list", "--json"]).output)
    assert {d["id"]: (d["status"], d["decided_by"]) for d in after} == {
        "cli00001": ("approved", "Dana"), "cli00002": ("rejected", "Dana")}
