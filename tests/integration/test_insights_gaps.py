"""Coverage gaps on the seeded month against the example corpus, and the `assistant insights` command."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.commands import insights as insights_command
from assistant.insights import Period, insights_from_settings, open_generation
from assistant.store import Store
from tests.integration.seeded import NOW, copy_index, make_store_module, topic_of

pytestmark = pytest.mark.integration

EMAIL_OR_PHONE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|\+44 20 7946 0958")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, example_index):
    settings = copy_index(example_index, tmp_path_factory.mktemp("insights") / "data")
    store = Store(settings.store_path)
    summary = make_store_module().seed_store(store, now=NOW, seed=7, index_dir=settings.data_dir)
    return settings, store, summary


@pytest.mark.parametrize("seed", [7, 21])
def test_every_planted_gap_is_a_top_five_group_and_no_group_mixes_topics(seeded, embedder, tmp_path: Path,
                                                                         seed: int) -> None:
    settings, store, summary = seeded
    if seed != 7:  # a second, differently drawn month (other prefixes, channels, times)
        store = Store(tmp_path / "store.sqlite")
        summary = make_store_module().seed_store(store, now=NOW, seed=seed, index_dir=settings.data_dir)
    topics = topic_of(summary.planted)
    report = insights_from_settings(settings, store, Period(NOW - 30 * 86_400, NOW), embedder=embedder,
                                    gap_members=True)
    labels = []
    for gap in report.gaps:
        found = Counter(topics.get(q.lower(), "-") for q in gap["questions"])
        planted = {t for t in found if t != "-"}
        assert len(planted) <= 1, f"group mixes planted topics: {dict(found)}"
        labels.append(next(iter(planted), "-") if planted and found.most_common(1)[0][0] != "-" else "-")
    top5 = labels[:5]
    assert sorted(top5) == sorted(summary.planted), (top5, [g["examples"][0] for g in report.gaps[:8]])
    for gap in report.gaps[:5]:
        assert len(gap["examples"]) == 3 and gap["size"] >= 5
        assert gap["nearest_docs"] and 0 < gap["nearest_docs"][0]["similarity"] < 1
        assert sum(gap["channels"].values()) == gap["size"]
        assert set(gap["reasons"]) <= {"abstained", "down", "handoff"}
    assert report.gaps == sorted(report.gaps, key=lambda g: -g["score"])


def test_personal_data_in_questions_never_reaches_the_report(seeded, embedder) -> None:
    settings, store, summary = seeded
    assert any(EMAIL_OR_PHONE.search(q) for qs in summary.planted.values() for q in qs)  # it was planted
    report = insights_from_settings(settings, store, Period(NOW - 30 * 86_400, NOW), embedder=embedder,
                                    gap_members=True)
    text = json.dumps(report.to_dict())
    assert not EMAIL_OR_PHONE.search(text)
    assert "[EMAIL]" in text and "[PHONE]" in text


def test_cited_and_never_cited_documents_come_from_the_published_generation(seeded) -> None:
    settings, store, _ = seeded
    generation = open_generation(settings)
    report = insights_from_settings(settings, store, Period(NOW - 30 * 86_400, NOW), generation=generation,
                                    gaps=False)
    documents = generation.db.documents()
    assert report.top_cited and all(d["doc_key"] in documents for d in report.top_cited)
    cited = {d["doc_key"] for d in report.top_cited}
    never = {d["doc_key"] for d in report.never_cited}
    assert never and not (cited & never)
    assert all(documents[k]["kind"] == "document" for k in never)
    assert report.gaps == []
    generation.close()


def test_insights_command_json_contract_and_html_report(seeded, embedder, monkeypatch, tmp_path: Path) -> None:
    settings, _, summary = seeded
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setattr("assistant.factory.build_embedder", lambda _settings: embedder)
    app = typer.Typer()
    insights_command.register(app)
    app.command("noop", hidden=True)(lambda: None)
    html = tmp_path / "out" / "report.html"
    until = "2027-01-15T08:00:00"  # NOW
    result = CliRunner().invoke(app, ["insights", "--since", "30d", "--until", until, "--json", "--html", str(html)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    for key in ("questions", "answered", "abstained", "fallback", "feedback", "handoffs", "deflection_rate", "gaps",
                "latency_ms", "top_cited", "never_cited"):
        assert key in data
    assert data["questions"] == summary.questions and data["abstained"] == summary.abstained
    assert data["feedback"] == {"up": summary.up, "down": summary.down}
    assert data["handoffs"] == summary.handoffs
    assert {"size", "examples", "nearest_docs"} <= set(data["gaps"][0])
    page = html.read_text(encoding="utf-8")
    assert page.count("<svg") >= 4  # trend, legend, funnel, gaps (+ cited documents)
    assert "<script" not in page and "http://cdn" not in page and "https://cdn" not in page
    assert "Coverage gaps" in page and "payroll" in page.lower()

    human = CliRunner().invoke(app, ["insights", "--since", "30d", "--until", until, "--no-gaps"])
    assert human.exit_code == 0 and "deflection" in human.output
    bad = CliRunner().invoke(app, ["insights", "--since", "lately"])
    assert bad.exit_code != 0
