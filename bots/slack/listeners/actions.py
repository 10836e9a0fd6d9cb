"""Buttons under answers (👍, 👎, "Post to channel") and the 👎 reason dialog.

👍 is stored at once. 👎 opens a dialog for an optional reason and, when an escalation
channel is configured, a box to send the answer to the support team; closing the dialog
still stores the 👎, so a rating is never lost because someone skipped the form.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.admission import conversation_policy, tell
from bots.slack.answering import header_blocks
from bots.slack.blocks import (
    ESCALATE_BLOCK,
    ESCALATE_INPUT,
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    POST_ANSWER,
    REASON_BLOCK,
    REASON_INPUT,
    REASON_VIEW,
    answer_footer,
    answer_messages,
    fallback_text,
    reason_modal,
)
from bots.slack.deps import SlackDeps
from bots.slack.feedback import escalate, find_answer, record_feedback

log = logging.getLogger(__name__)

THANKS = "Thanks for the feedback!"
GONE = "That answer is no longer available. Please ask again."
NOT_POSTABLE = ("This answer uses internal sources and this channel is customer-facing or shared with another "
                "organisation, so I won't post it here.")


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.action(FEEDBACK_UP)
    async def on_thumbs_up(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                           respond: AsyncRespond) -> None:
        await ack()
        stored = await record_feedback(deps, answer_id=action["value"], rating=1, user=_user(body))
        await respond(text=THANKS if stored else GONE, response_type="ephemeral", replace_original=False)

    @app.action(FEEDBACK_DOWN)
    async def on_thumbs_down(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient,
                             respond: AsyncRespond) -> None:
        await ack()
        await handle_thumbs_down(deps, body, action, client, respond)

    @app.action(POST_ANSWER)
    async def on_post_answer(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient,
                             respond: AsyncRespond) -> None:
        await ack()
        await handle_post_answer(deps, body, action, client, respond)

    @app.view(REASON_VIEW)
    async def on_reason(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await handle_reason(deps, body, view, client)

    @app.view_closed(REASON_VIEW)
    async def on_reason_skipped(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        meta = _metadata(view)
        await record_feedback(deps, answer_id=meta.get("a", ""), rating=-1, user=_user(body))


def _user(body: dict[str, Any]) -> str | None:
    return (body.get("user") or {}).get("id")


def _metadata(view: dict[str, Any]) -> dict[str, str]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _where(body: dict[str, Any]) -> tuple[str | None, str | None, bool]:
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    return channel, container.get("message_ts"), bool(container.get("is_ephemeral"))


async def handle_thumbs_down(deps: SlackDeps, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient,
                             respond: AsyncRespond) -> None:
    answer_id = action["value"]
    channel, message_ts, ephemeral = _where(body)
    message = dict(body.get("message") or {}, channel=channel or "", ts=None if ephemeral else message_ts)
    record = await find_answer(deps, answer_id, message)  # cached now, for the dialog's submission
    if record is None:
        await respond(text=GONE, response_type="ephemeral", replace_original=False)
        return
    if record.message_ts is None and message_ts and not ephemeral:
        deps.answers.put(dataclasses.replace(record, message_ts=message_ts, channel=channel or record.channel))
    meta = json.dumps({"a": answer_id, "c": channel or ""})
    view = reason_modal(meta, can_escalate=bool(deps.settings.slack.escalation_channel))
    try:
        await client.views_open(trigger_id=body["trigger_id"], view=view)
    except (SlackApiError, KeyError) as exc:
        log.info("could not open the feedback dialog (%s); storing the rating without a reason", exc)
        await record_feedback(deps, answer_id=answer_id, rating=-1, user=_user(body))
        await respond(text=THANKS, response_type="ephemeral", replace_original=False)


async def handle_reason(deps: SlackDeps, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
    meta = _metadata(view)
    answer_id, channel, user = meta.get("a", ""), meta.get("c") or None, _user(body)
    values = (view.get("state") or {}).get("values") or {}
    reason = ((values.get(REASON_BLOCK) or {}).get(REASON_INPUT) or {}).get("value") or None
    chosen = ((values.get(ESCALATE_BLOCK) or {}).get(ESCALATE_INPUT) or {}).get("selected_options") or []
    wants_escalation = any(o.get("value") == "escalate" for o in chosen)
    if not await record_feedback(deps, answer_id=answer_id, rating=-1, user=user, comment=reason):
        return
    note = THANKS
    if wants_escalation:
        record = await find_answer(deps, answer_id)
        sent = record is not None and await escalate(deps, client, record, flagged_by=user, reason=reason)
        destination = deps.settings.slack.escalation_channel
        note = (f"Thanks! I've sent this to the support team in <#{destination}>." if sent
                else "Thanks. I couldn't reach the escalation channel; the feedback is saved.")
    if channel:
        await tell(client, channel=channel, user=user, text=note)


async def handle_post_answer(deps: SlackDeps, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient,
                             respond: AsyncRespond) -> None:
    channel, _, _ = _where(body)
    record = await find_answer(deps, action["value"])
    if record is None or not channel:
        await respond(text=GONE, response_type="ephemeral", replace_original=False)
        return
    if record.audience == "internal":
        policy = await conversation_policy(deps, client, channel, body=body, fresh=True)  # never a stale "no"
        if policy.audience == "public":
            await respond(text=NOT_POSTABLE, response_type="ephemeral", replace_original=False)
            return
    messages = answer_messages(record.answer)
    messages[0] = header_blocks(record.user or _user(body), record.question) + messages[0]
    footer = answer_footer(sources=record.sources, fallback=record.fallback, abstained=record.abstained,
                           answer_id=record.answer_id)
    try:
        ts = None
        for i, blocks in enumerate(messages):
            if i == len(messages) - 1:
                blocks = blocks + footer
            resp = await client.chat_postMessage(channel=channel, thread_ts=ts, text=fallback_text(blocks),
                                                 blocks=blocks, unfurl_links=False, unfurl_media=False)
            ts = ts or resp.get("ts")
    except SlackApiError as exc:
        error = exc.response.get("error")
        text = ("I'm not a member of this channel: invite me with `/invite`, then try again."
                if error in ("not_in_channel", "channel_not_found") else "Sorry, I couldn't post the answer.")
        await respond(text=text, response_type="ephemeral", replace_original=False)
        return
    deps.answers.put(dataclasses.replace(record, channel=channel, message_ts=ts))
    await respond(delete_original=True)
