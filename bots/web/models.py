"""Request and response bodies of the ``/v1`` API (what the OpenAPI docs show).

Requests forbid unknown fields: in particular there is no ``audience`` field to send, and a
request that tries gets a 422 rather than being silently ignored (docs/architecture.md §2).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.schemas import SourceRef


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionRequest(_Body):
    user_id: str | None = Field(None, min_length=1, max_length=256,
                                description="The host site's id for a logged-in customer (optional).")
    user_hash: str | None = Field(None, min_length=1, max_length=128,
                                  description="hex HMAC-SHA256(identity_secret, user_id), computed by the host site.")


class SessionResponse(BaseModel):
    token: str
    expires_in: int = Field(description="Seconds until the token expires; renew it before then.")
    identified: bool = Field(description="Whether a user id was verified for this session.")


class ChatRequest(_Body):
    # The real length cap is a setting and answers 413; this only bounds parsing.
    message: str = Field(min_length=1, max_length=100_000)
    conversation_id: str | None = Field(None, min_length=1, max_length=64)


class PublicSource(BaseModel):
    """A source as the widget shows it: no chunk ids, file paths or scores."""

    n: int
    title: str
    url: str | None = None
    section: str = ""
    snippet: str = ""

    @classmethod
    def of(cls, ref: SourceRef) -> PublicSource:
        return cls(n=ref.n, title=ref.title, url=_web_url(ref.url), section=ref.section, snippet=ref.snippet)


def _web_url(url: str | None) -> str | None:
    """Only http(s) links reach the page: a ``javascript:`` URL in a source is dropped here too."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


class ChatAnswer(BaseModel):
    """The ``done`` event's data, and the whole answer of the JSON variant."""

    conversation_id: str | None
    answer_id: str | None = Field(description="Refer to it in /v1/feedback.")
    answer: str
    abstained: bool = Field(description="True when the assistant found no good evidence and did not answer.")
    sources: list[PublicSource]
    offer_handoff: bool = Field(False, description="True when the customer asked for a person: offer the hand-off "
                                                   "(POST /v1/handoff) with this answer.")


class FeedbackRequest(_Body):
    answer_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2000)


class FeedbackResponse(BaseModel):
    status: Literal["recorded"] = "recorded"


class HandoffRequest(_Body):
    conversation_id: str = Field(min_length=1, max_length=64)
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                              description="Where the customer wants the reply (optional).")
    note: str | None = Field(None, max_length=2000)
    page_url: str | None = Field(None, max_length=2000, description="The page the customer was on.")


class HandoffResponse(BaseModel):
    status: Literal["sent"] = "sent"
    handoff_id: str
    message: str


class TurnOut(BaseModel):
    id: str
    role: Literal["user", "assistant"]
    text: str
    created_at: float


class ConversationOut(BaseModel):
    conversation_id: str
    turns: list[TurnOut]
