"""The /admin page in real headless Chromium, on a month of seeded traffic over the example index."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from assistant.config import Settings
from assistant.drafts import Draft, DraftStore
from assistant.store import Store
from bots.web.app import create_app
from tests.fakes import FakePipeline
from tests.integration.seeded import copy_index, make_store_module
from tests.integration.web_harness import running

pytestmark = pytest.mark.browser

TOKEN = "admin-token-for-tests-0123456789"
WIDGET_ORIGIN = "http://help.ledgerly.example"  # where the widget is embedded: must never reach /admin


@dataclass
class AdminServer:
    url: str
    settings: Settings
    store: Store
    curated: Path


@pytest.fixture(scope="module")
def admin_data(tmp_path_factory: pytest.TempPathFactory, example_index) -> Settings:
    return copy_index(example_index, tmp_path_factory.mktemp("admin") / "data")


@pytest.fixture
def admin_server(admin_data: Settings, embedder, tmp_path: Path) -> Iterator[AdminServer]:
    curated = tmp_path / "curated"
    settings = Settings(data_dir=admin_data.data_dir, allowed_origins=[WIDGET_ORIGIN], admin_token=SecretStr(TOKEN),
                        drafts={"curated_dir": curated}, _env_file=None)  # type: ignore[arg-type]
    store = Store(tmp_path / "store.sqlite")
    make_store_module().seed_store(store, now=time.time(), seed=7, index_dir=admin_data.data_dir)
    drafts = DraftStore(store)
    for n, title in enumerate(("Export timesheets", "Card payments down?")):
        drafts.add(Draft(id=f"draft00{n}", status="pending", title=title, question=f"How do I {title.lower()}?",
                         answer="- Go to Reports > Time > Timesheet export.\n- Click Export CSV.",
                         tickets=[{"id": f"9000{n}", "subject": title,
                                   "url": f"https://ledgerly.zendesk.com/agent/tickets/9000{n}"}],
                         topic_size=6, coverage=0.41, nearest_doc="Exporting your data", created_at=time.time()))
    app = create_app(settings, pipeline=FakePipeline(store=store), store=store)
    app.state.admin_embedder = embedder  # the session's loaded model, not a second copy
    with running(app) as url:
        yield AdminServer(url, settings, store, curated)


def sign_in(page, server: AdminServer) -> None:
    page.goto(f"{server.url}/admin")
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Insights").wait_for()


def test_admin_is_a_404_when_no_token_is_configured(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)
    store = Store(settings.store_path)
    with running(create_app(settings, pipeline=FakePipeline(store=store), store=store)) as url:
        for method, path in (("GET", "/admin"), ("POST", "/admin/login"), ("GET", "/admin/insights.json"),
                             ("GET", "/admin/assets/admin.css")):
            response = httpx.request(method, url + path, headers={"authorization": "Bearer anything"})
            assert response.status_code == 404, path


def test_a_short_admin_token_stops_the_server(tmp_path: Path) -> None:
    from assistant.errors import ConfigError

    settings = Settings(data_dir=tmp_path, admin_token=SecretStr("admin"), _env_file=None)
    with pytest.raises(ConfigError, match="too short"):
        create_app(settings, pipeline=FakePipeline(), store=Store(settings.store_path))


def test_sign_in_then_insights_gaps_and_a_conversation(page, admin_server: AdminServer, artifacts: Path) -> None:
    page.goto(f"{admin_server.url}/admin")
    page.get_by_label("Admin token").fill("wrong token")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").wait_for()
    assert "not right" in page.get_by_role("alert").text_content()

    sign_in(page, admin_server)
    page.get_by_role("link", name="last 30d").click()
    page.get_by_role("heading", name="Coverage gaps").wait_for()
    kpis = page.get_by_label("key numbers").text_content()
    assert "Questions" in kpis and "Deflection" in kpis
    assert page.locator("svg").count() >= 4
    gaps = page.locator(".card.gap")
    assert gaps.count() >= 5
    top = " ".join(gaps.nth(i).text_content().lower() for i in range(3))
    assert "payroll" in top and "shopify" in top  # the two largest planted gaps (their order is the test's)
    assert "@" not in page.locator("#gaps ~ .card.gap").first.text_content()  # personal data redacted
    page.screenshot(path=str(artifacts / "admin-01-insights.png"), full_page=True)

    page.locator("#conversations ~ table a").first.click()
    page.get_by_role("heading", name="Conversation").wait_for()
    assert page.locator(".turn").count() >= 2
    page.screenshot(path=str(artifacts / "admin-02-conversation.png"), full_page=True)

    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Admin token").wait_for()


def test_a_follow_up_shows_what_it_was_searched_as_and_why_it_was_declined(page, admin_server: AdminServer) -> None:
    """"Does it work in Canada?" alone does not tell a reviewer what the customer asked about, nor
    "declined" why."""
    from assistant.schemas import DoneEvent

    store = admin_server.store
    conv = store.create_conversation(channel="web", audience="public")
    asked = time.time() + 3600  # after the seeded month: the newest conversation, first in the list
    store.record_answer(conversation=conv, question="Does it work in Canada?", asked_at=asked,
                        searched="How do I set up payroll? Does it work in Canada?", declined="low_confidence",
                        done=DoneEvent(answer="I couldn't find that.", sources=[], abstained=True, fallback=False,
                                       backend="extractive"))
    sign_in(page, admin_server)
    page.goto(f"{admin_server.url}/admin/conversations/{conv.id}")
    page.get_by_role("heading", name="Conversation").wait_for()
    question, answer = (page.locator(".turn").nth(i).text_content() for i in (0, 1))
    assert "searched as: “How do I set up payroll? Does it work in Canada?”" in answer
    assert "searched as" not in question  # the customer's own turn
    assert "Declined because the retrieval confidence was under the cut-off." in answer


def test_an_answer_given_on_weak_evidence_says_so_with_its_confidence(page, admin_server: AdminServer) -> None:
    from assistant.schemas import DoneEvent

    store = admin_server.store
    conv = store.create_conversation(channel="web", audience="public")
    asked = time.time() + 7200
    for n, confidence in enumerate((0.55, 0.93)):
        store.record_answer(conversation=conv, question=f"Question {n}?", asked_at=asked + n, confidence=confidence,
                            done=DoneEvent(answer=f"Answer {n}.", sources=[], abstained=False, fallback=False,
                                           backend="extractive"))
    sign_in(page, admin_server)
    page.goto(f"{admin_server.url}/admin/conversations/{conv.id}")
    page.get_by_role("heading", name="Conversation").wait_for()
    weak, sure = (page.locator(".turn.assistant").nth(i).text_content() for i in (0, 1))
    assert "confidence 0.55" in weak and "Answered on weak evidence" in weak
    assert "confidence 0.93" in sure and "weak evidence" not in sure


def test_approve_and_reject_drafts_from_the_queue(page, admin_server: AdminServer, artifacts: Path) -> None:
    sign_in(page, admin_server)
    first = page.get_by_role("form", name="Approve Export timesheets")
    first.get_by_label("Your name").fill("Dana Lead")
    first.get_by_label("Audience").select_option("public")
    first.get_by_role("button", name="Approve").click()
    page.get_by_role("status").filter(has_text="Approved").wait_for()
    written = list((admin_server.curated / "public").glob("*.md"))
    assert len(written) == 1 and written[0].read_text().startswith("# Export timesheets")

    second = page.get_by_role("form", name="Reject Card payments down?")
    second.get_by_label("Your name").fill("Sam Reviewer")
    second.get_by_label("Reason").fill("An outage notice, not an article")
    second.get_by_role("button", name="Reject").click()
    page.get_by_role("status").filter(has_text="Rejected").wait_for()
    assert page.locator("article.draft").count() == 0
    decided = page.locator("table").filter(has_text="decision").text_content()
    assert "Dana Lead" in decided and "Sam Reviewer" in decided and "An outage notice" in decided
    page.screenshot(path=str(artifacts / "admin-03-drafts-decided.png"), full_page=True)
    stored = {d.id: (d.status, d.decided_by) for d in DraftStore(admin_server.store).drafts()}
    assert stored == {"draft000": ("approved", "Dana Lead"), "draft001": ("rejected", "Sam Reviewer")}


def test_the_widget_origin_cannot_reach_admin(page, admin_server: AdminServer) -> None:
    base, auth = admin_server.url, {"authorization": f"Bearer {TOKEN}"}
    ok = httpx.get(f"{base}/admin/insights.json?since=30d", headers=auth, timeout=60)
    assert ok.status_code == 200 and {"questions", "gaps", "deflection_rate"} <= set(ok.json())
    for headers in ({"origin": WIDGET_ORIGIN}, {"sec-fetch-site": "cross-site"}):
        refused = httpx.get(f"{base}/admin/insights.json", headers={**auth, **headers})
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers
    preflight = httpx.options(f"{base}/admin/insights.json", headers={
        "origin": WIDGET_ORIGIN, "access-control-request-method": "GET",
        "access-control-request-headers": "authorization"})
    assert "access-control-allow-origin" not in preflight.headers
    assert httpx.post(f"{base}/admin/drafts/draft000/approve", data={"audience": "public", "reviewer": "x"},
                      headers={"origin": WIDGET_ORIGIN, **auth}).status_code == 403

    # A page on the widget's origin, in a browser already signed in to /admin, cannot read it.
    sign_in(page, admin_server)
    page.route(f"{WIDGET_ORIGIN}/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>Help center</title><p>hi</p>"))
    page.goto(f"{WIDGET_ORIGIN}/page")
    outcome = page.evaluate("""async ([url, token]) => {
        const results = [];
        for (const init of [{credentials: 'include'}, {headers: {Authorization: 'Bearer ' + token}}]) {
            try { const r = await fetch(url, init); results.push('read ' + r.status); }
            catch (e) { results.push('blocked'); }
        }
        return results;
    }""", [f"{base}/admin/insights.json", TOKEN])
    assert outcome == ["blocked", "blocked"]
