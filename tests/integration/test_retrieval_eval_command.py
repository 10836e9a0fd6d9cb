"""``assistant eval`` end to end: a real generation, the extractive pipeline, JSON + HTML reports, --compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import _register_all, app
from assistant.eval_datasets import document_chunk, write_generation

pytestmark = pytest.mark.integration

DOCS = {
    "invoicing/recurring.md": ("Recurring invoices", "Create a recurring profile to bill a client every week, month "
                                                    "or year; each invoice is emailed automatically."),
    "payments/refunds.md": ("Refunds", "Open the payment and choose Refund. Card refunds reach the client in 5-10 "
                                       "business days; processing fees are not returned."),
    "taxes/rates.md": ("Tax rates", "Add tax rates under Settings > Taxes and choose them per invoice line."),
}
INTERNAL = {"refund-limits.md": ("Refund approval limits", "Agents may refund up to $500 without a team lead.")}
DATASET = [
    {"question": "How do I bill a client automatically every month?", "expected_sources": ["recurring"],
     "answerable": True, "audience": "public"},
    {"question": "Do I get the card processing fee back after a refund?",
     "expected_sources": ["payments/refunds.md"], "answerable": True, "audience": "public"},
    {"question": "How much can an agent refund without a team lead?", "expected_sources": ["refund-limits"],
     "answerable": True, "audience": "internal"},
    {"question": "What is the boiling point of mercury on Mars?", "expected_sources": [], "answerable": False,
     "audience": "public"},
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    path = tmp_path_factory.mktemp("eval-index")
    chunks = [document_chunk(source="help", key=k, title=t, text=x, model_id=embedder.model_id,
                             url=f"https://help.ledgerly.example/{k.removesuffix('.md')}")
              for k, (t, x) in DOCS.items()]
    chunks += [document_chunk(source="runbooks", key=k, title=t, text=x, model_id=embedder.model_id,
                              audience="internal") for k, (t, x) in INTERNAL.items()]
    write_generation(path, chunks, embedder.encode([c.embed_text for c in chunks]), model_id=embedder.model_id)
    return path


@pytest.fixture
def invoke(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ASSISTANT_EMBEDDING_DEVICE", "cpu")
    _register_all()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["eval", *args])


def _dataset(tmp_path: Path) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in DATASET) + "\n")
    return path


def test_eval_prints_one_json_report_and_writes_json_and_html(invoke, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = invoke("--dataset", str(_dataset(tmp_path)), "--backend", "extractive", "--json", "--out", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "abstention_precision",
                "abstention_recall", "citation_validity", "latency_ms"):
        assert key in report
    assert report["recall@5"] == 1.0
    assert report["abstention_recall"] == 1.0  # the Mars question is declined
    declined = [q for q in report["per_question"] if q["abstained"]]
    assert declined and all(q["declined"] == "low_confidence" for q in declined)  # and the row says why
    assert all(q["declined"] is None for q in report["per_question"] if not q["abstained"])
    assert report["citation_validity"] == 1.0
    assert report["citations"]["total"] > 0
    assert set(report["latency_ms"]["retrieval"]) == {"p50", "p95", "p99"}
    assert report["latency_ms"]["answer"] is not None
    assert json.loads((out / "report.json").read_text())["questions"] == 4
    page = (out / "report.html").read_text()
    assert "<svg" in page and "<script" not in page


def test_eval_compare_flags_regressions_and_can_fail_the_run(invoke, tmp_path: Path) -> None:
    dataset = _dataset(tmp_path)
    first = invoke("--dataset", str(dataset), "--retrieval-only", "--out", str(tmp_path / "a"))
    assert first.exit_code == 0, first.output
    previous = json.loads((tmp_path / "a" / "report.json").read_text())
    previous["recall@1"] = 1.5  # an impossible earlier score: the new run must look like a drop
    (tmp_path / "prev.json").write_text(json.dumps(previous))
    args = ("--dataset", str(dataset), "--retrieval-only", "--compare", str(tmp_path / "prev.json"),
            "--out", str(tmp_path / "b"))
    shown = invoke(*args)
    assert shown.exit_code == 0, shown.output
    assert "REGRESSED" in shown.stdout and "recall@1" in shown.stdout
    failed = invoke(*args, "--fail-on-regression")
    assert failed.exit_code == 1


def test_eval_names_the_bad_line_of_a_dataset(invoke, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(DATASET[0]) + "\n" + '{"question": "x", "answerable": "maybe", "audience": "public"}\n')
    result = invoke("--dataset", str(bad), "--retrieval-only")
    assert result.exit_code != 0
    assert "line 2" in str(result.exception)
