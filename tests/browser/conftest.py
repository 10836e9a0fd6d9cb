"""Real headless Chromium (Debian's ``chromium``) driven by Playwright, and a live web server.

The server is the same app ``assistant serve`` runs, on 127.0.0.1 with an OS-chosen port, in
development mode so the demo page (served by the server itself) may call the API. Its
pipeline is scripted per test (``script.answer = ...``); one test uses the real pipeline.
Screenshots go to ``test-artifacts/browser/`` (gitignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.schemas import AnswerRequest
from assistant.store import Store
from bots.web.app import create_app
from tests.fakes import FakePipeline, ScriptedAnswer, source
from tests.integration.web_harness import running

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

DEFAULT_ANSWER = ScriptedAnswer(
    "To set up **recurring invoices**, open *Invoices > Recurring* and choose a schedule [1].\n\n"
    "- Pick the client and the first date\n- Turn on auto-charge to bill the saved card [2]\n\n"
    "See the [billing guide](https://help.ledgerly.example/billing) for plans.",
    [source(1, "Recurring invoices", url="https://help.ledgerly.example/invoicing/recurring-invoices"),
     source(2, "Auto-charge and saved cards", url="https://help.ledgerly.example/payments/auto-charge")],
)


@dataclass
class Script:
    """What the scripted pipeline answers next; tests replace ``answer``."""

    answer: ScriptedAnswer = field(default_factory=lambda: DEFAULT_ANSWER)

    def __call__(self, request: AnswerRequest) -> ScriptedAnswer:
        return self.answer


@dataclass
class LiveServer:
    url: str
    store: Store
    pipeline: FakePipeline
    script: Script
    settings: Settings


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Module scope on purpose: Playwright's sync API keeps an event loop running in the main
    thread while it lives, which breaks every async test that runs after it in the session."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, color_scheme="light")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: errors.append(f"dialog opened: {dialog.message}"))
    page.errors = errors
    yield page
    context.close()
    assert not errors, errors  # no script errors, and no alert() ever fired


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # development: same-origin demo page allowed
    store = Store(settings.store_path)
    script = Script()
    pipeline = FakePipeline(script, store=store, token_delay_s=0.03)
    with running(create_app(settings, pipeline=pipeline, store=store)) as url:
        yield LiveServer(url, store, pipeline, script, settings)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
