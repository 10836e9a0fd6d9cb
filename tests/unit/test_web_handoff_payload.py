"""What a hand-off carries: the sources the customer saw, kept in bounded memory, and the mail text."""

from __future__ import annotations

from bots.web.deps import SourceMemory
from bots.web.handoff import render_text
from bots.web.models import PublicSource


def test_source_memory_keeps_titles_and_links_of_the_latest_answers_only() -> None:
    memory = SourceMemory(capacity=2)
    shown = [PublicSource(n=1, title="Refunds", url="https://help.ledgerly.example/refunds", snippet="x" * 500)]
    for answer_id in ("a1", "a2", "a3"):
        memory.remember(answer_id, shown)
    assert memory.get("a1") is None
    assert memory.get("a3") == [{"n": 1, "title": "Refunds", "url": "https://help.ledgerly.example/refunds"}]


def test_public_source_drops_non_web_links() -> None:
    from bots.web.models import _web_url

    assert _web_url("javascript:alert(1)") is None
    assert _web_url("file:///etc/passwd") is None
    assert _web_url("HTTPS://help.ledgerly.example/a") == "HTTPS://help.ledgerly.example/a"


def test_mail_text_lists_the_transcript_with_numbered_sources() -> None:
    text = render_text({
        "conversation_id": "c1", "handoff_id": "h1", "email": "kim@example.com", "user_id": None,
        "page_url": "https://help.ledgerly.example/billing", "note": "Call me",
        "transcript": [
            {"role": "user", "text": "How do I upgrade?"},
            {"role": "assistant", "text": "Open Billing [1].",
             "sources": [{"n": 1, "title": "Plans", "url": "https://help.ledgerly.example/plans"}]},
        ],
    })
    assert "Customer email: kim@example.com" in text
    assert "Customer:\nHow do I upgrade?" in text
    assert "Assistant:\nOpen Billing [1].\n  [1] Plans <https://help.ledgerly.example/plans>" in text
    assert "Customer's note:\nCall me" in text
