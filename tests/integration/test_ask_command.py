"""``assistant ask`` end to end: real index, real embedding model, real FAISS and SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.commands import ask as ask_command
from tests.integration.answer_corpus import CANARY, build_tiny_index

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def index_settings(tmp_path_factory: pytest.TempPathFactory, embedder):
    return build_tiny_index(tmp_path_factory.mktemp("ask-index"), embedder)


@pytest.fixture
def run_ask(index_settings, embedder, monkeypatch: pytest.MonkeyPatch):
    """Invoke ``assistant ask`` in process against the tiny index (sharing the loaded embedder)."""
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(index_settings.data_dir))
    monkeypatch.setattr("assistant.factory.build_embedder", lambda settings: embedder)
    app = typer.Typer()
    ask_command.register(app)
    app.command("noop", hidden=True)(lambda: None)  # keep "ask" a subcommand, as in the real CLI

    def run(*args: str):
        return CliRunner().invoke(app, ["ask", *args])

    return run


def test_json_output_has_the_contract_keys_and_cited_public_sources(run_ask) -> None:
    result = run_ask("How long do card refunds take?", "--backend", "extractive", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)

    assert {"answer", "abstained", "fallback", "sources", "generation", "backend", "timings_ms"} <= set(payload)
    assert payload["abstained"] is False and payload["fallback"] is False and payload["backend"] == "extractive"
    assert "5 to 10 business days" in payload["answer"]
    assert payload["sources"][0]["title"] == "Refunds"
    assert payload["sources"][0]["url"] == "https://help.example/refunds.md"
    for n, source in enumerate(payload["sources"], start=1):
        assert set(source) == {"n", "title", "url", "source", "audience", "chunk_id"}
        assert source["n"] == n and source["audience"] == "public"
        assert f"[{n}]" in payload["answer"]
    assert payload["generation"] and payload["timings_ms"]["retrieve"] > 0


def test_a_declined_question_says_why_in_the_note_and_the_json(example_index, embedder,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(example_index.data_dir))
    monkeypatch.setattr("assistant.factory.build_embedder", lambda settings: embedder)
    app = typer.Typer()
    ask_command.register(app)
    app.command("noop", hidden=True)(lambda: None)

    def ask(question: str, *args: str):
        return CliRunner().invoke(app, ["ask", question, "--backend", "extractive", *args])

    price = json.loads(ask("How much does two-factor authentication cost?", "--json").stdout)
    assert price["abstained"] is True and price["declined"] == "price_unstated"
    assert json.loads(ask("How do I refund a card payment?", "--json").stdout)["declined"] is None
    streamed = ask("How much does two-factor authentication cost?")
    assert "note: abstained: it asks a price and no passage found states one" in streamed.stderr
    off_topic = ask("What is the best recipe for sourdough bread with rye flour?")
    assert "note: abstained: the retrieval confidence was under the cut-off" in off_topic.stderr


def test_public_questions_never_see_internal_material_but_internal_ones_do(run_ask) -> None:
    question = "What discount can support agents grant without approval?"
    public = json.loads(run_ask(question, "--backend", "extractive", "--json").stdout)
    internal = json.loads(run_ask(question, "--backend", "extractive", "--json", "--audience", "internal").stdout)

    assert CANARY not in json.dumps(public)
    assert all(s["audience"] == "public" for s in public["sources"])
    assert any(s["audience"] == "internal" for s in internal["sources"])


def test_streamed_output_ends_with_the_numbered_sources(run_ask) -> None:
    result = run_ask("How do I add a tax rate?", "--backend", "extractive")
    assert result.exit_code == 0, result.output
    answer, _, footer = result.stdout.partition("\nSources:\n")
    assert "Settings > Taxes" in answer
    assert "[1] Tax rates — https://help.example/tax-rates.md (public)" in footer


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "assistant.cli", "ask", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_without_an_index_the_error_says_how_to_build_one(tmp_path: Path) -> None:
    result = _cli("How do refunds work?", data_dir=tmp_path / "empty")
    assert result.returncode == 2
    assert "No published index" in result.stderr and "assistant ingest" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_an_unknown_backend_is_refused_with_the_valid_names(tmp_path: Path) -> None:
    result = _cli("How do refunds work?", "--backend", "gpt-9", data_dir=tmp_path)
    assert result.returncode == 2
    assert "Unknown LLM backend 'gpt-9'" in result.stderr and "tgi, openai, local, extractive" in result.stderr
