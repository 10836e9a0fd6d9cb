"""Seed a conversation store with a month of realistic traffic, so insights and /admin have content.

What it writes (seeded: the same ``--seed`` and ``--now`` give the same store):

- ~300 answered questions about things the example help center covers (paraphrases of the
  golden set's answerable questions), on the widget (``web``) and in Slack, most rated 👍 or not
  at all, a few 👎 with a reason;
- planted **coverage gaps**: questions about things the example corpus does not cover (payroll,
  inventory, a Shopify integration, crypto payments, time tracking), declined by the assistant,
  or answered badly and rated 👎, often followed by a hand-off to a human; some carry personal
  data (emails, phone numbers) that the report must redact;
- one-off off-topic questions that are declined (noise that must not form a top group);
- with ``--index DATA_DIR``: answers cite real chunk ids of that data dir's published
  generation, so "most cited" and "never cited" documents are meaningful.

Also :func:`planted_tickets`: a recurring resolved-ticket topic the public help lacks (exporting
time entries / timesheets), in Zendesk export format, for ``assistant drafts mine`` demos and tests.

Usage:  python examples/tools/make_store.py --store var/store.sqlite [--index var] [--days 30] [--seed 7]
        python examples/tools/make_store.py --tickets-out examples/exports/planted-tickets.json
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.schemas import Audience, DoneEvent, SourceRef
from assistant.store import Store

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "eval" / "golden.jsonl"

# Planted gaps: topic -> (how the assistant failed, paraphrases). Nothing in examples/docs covers them.
GAPS: dict[str, tuple[str, list[str]]] = {
    "payroll": ("abstained", [
        "Can I run payroll for my employees in Ledgerly?",
        "Does Ledgerly do payroll?",
        "how do I pay my staff salaries through ledgerly",
        "Is there a payroll feature for paying employees and withholding taxes?",
        "Can Ledgerly handle employee payroll and pay stubs?",
        "We have 6 employees, can we process payroll with you?",
        "I want to pay wages to my team every two weeks, is payroll supported?",
        "do you support running payroll and filing payroll taxes",
        "Can I generate payslips for my employees?",
        "Is payroll included in the Growth plan?",
        "How do I set up direct deposit payroll for employees?",
        "My accountant asks if Ledgerly can run our payroll, can it? reach me at maria.lopez@brightdesk.io",
        "payroll for contractors and employees in ledgerly?",
        "Can I add employees and pay them salaries monthly from Ledgerly?",
        "Does Ledgerly calculate payroll deductions?",
        "Where is the payroll section?",
        "Can you run payroll for my small business? call me on +44 20 7946 0958",
        "Is there a way to do employee payroll in the app?",
    ]),
    "inventory": ("abstained", [
        "Does Ledgerly keep track of inventory and stock levels for products I sell?",
        "How do I track inventory in Ledgerly?",
        "can ledgerly track stock quantities of my products",
        "Is there inventory management?",
        "When I invoice a product does the stock count go down?",
        "How can I see how many units I have left in stock?",
        "I sell physical goods, can I manage my inventory here?",
        "Do you support stock tracking and low-stock alerts?",
        "Can I set reorder points for items in my inventory?",
        "Is there a warehouse / inventory module?",
        "track product inventory across two warehouses?",
        "Does Ledgerly reduce my stock count when I sell an item on an invoice? email me at tom@hartleygoods.co.uk",
        "How do I add stock levels to my product list?",
        "inventory valuation report in ledgerly?",
        "Can I count my stock in Ledgerly?",
    ]),
    "shopify": ("abstained", [
        "Is there a Shopify integration?",
        "How do I connect my Shopify store to Ledgerly?",
        "can I sync Shopify orders into ledgerly as invoices",
        "Do you integrate with Shopify?",
        "Shopify integration — does it exist?",
        "I run a Shopify shop, can Ledgerly import my orders automatically?",
        "How can I link Shopify and Ledgerly?",
        "Will Shopify sales show up in Ledgerly?",
        "Is a Shopify app for Ledgerly available?",
        "connect shopify payments to ledgerly",
        "Can Ledgerly pull in my Shopify sales every day?",
        "Any plans for a Shopify connector?",
        "We sell on Shopify, how do we get our orders into Ledgerly?",
        "shopify sync not found in integrations, where is it?",
    ]),
    "crypto": ("abstained", [
        "Can my clients pay invoices in Bitcoin or other cryptocurrencies?",
        "Do you accept crypto payments?",
        "can clients pay with bitcoin",
        "Is it possible to get paid in Ethereum or another cryptocurrency through Ledgerly?",
        "Do you support cryptocurrency as a payment method on invoices?",
        "How do I enable Bitcoin payments for my invoices?",
        "Can I receive USDC or other stablecoins from clients?",
        "crypto wallet payments for invoices?",
        "My client wants to pay in bitcoin, how can they do that?",
        "Can Ledgerly accept crypto payments and convert them to dollars?",
        "Is there a crypto payment option?",
    ]),
    "time-tracking": ("down", [
        "How do I track billable hours with a timer?",
        "Is there a time tracking feature?",
        "can I log hours worked on a project and bill them",
        "How do I start a timer for a client project?",
        "Can my team submit timesheets in Ledgerly?",
        "How do I turn tracked time into an invoice?",
        "Where do I record the hours I worked for a client?",
        "Does Ledgerly have a time tracker?",
        "can I track time per task and bill hourly",
        "How do I add my hours to an invoice automatically?",
        "Is there a stopwatch to track billable time?",
        "How do I approve my team's timesheets?",
    ]),
}
DOWN_REASONS = {
    "time-tracking": ["It didn't answer my question", "I asked about time tracking, not invoices",
                      "Not relevant", "wrong answer"],
    "covered": ["The steps are outdated", "Too vague", "The menu it mentions doesn't exist", "Didn't help",
                "Answer was too long"],
}
OFF_TOPIC = [
    "What's the weather in Lisbon tomorrow?", "Write me a poem about invoices", "Who won the football last night?",
    "Can you recommend a good accountant in Denver?", "What is the meaning of life?",
    "Translate 'thank you' into Japanese", "Is Ledgerly hiring engineers?", "What's 17% of 2,350?",
    "Tell me a joke", "How tall is the Eiffel tower?", "What does your CEO think about AI?",
    "Which PostgreSQL version does Ledgerly run in production?",
    "What is the street address of Ledgerly's London office?", "Do you have an affiliate program?",
]
PREFIXES = ["", "", "", "Hi, ", "Hello! ", "Quick question: ", "hey - ", "Sorry to bother you, "]


@dataclass
class SeedSummary:
    conversations: int = 0
    questions: int = 0
    answered: int = 0
    abstained: int = 0
    up: int = 0
    down: int = 0
    handoffs: int = 0
    planted: dict[str, list[str]] = field(default_factory=dict)  # gap topic -> questions as asked

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _answerable() -> list[tuple[str, list[str]]]:
    out = []
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["answerable"] and row["audience"] == "public":
            out.append((row["question"], row["expected_sources"]))
    return out


def _chunk_lookup(index_dir: Path | None) -> tuple[str | None, dict[str, list[tuple[str, str, str | None]]]]:
    """Document path -> [(chunk_id, title, url)] from the published generation of ``index_dir``."""
    if index_dir is None:
        return None, {}
    from assistant import generations

    generation, path = generations.resolve(index_dir, None)
    db = sqlite3.connect(f"file:{path / 'chunks.sqlite'}?mode=ro", uri=True)
    try:
        found: dict[str, list[tuple[str, str, str | None]]] = {}
        for chunk_id, doc_path, title, url in db.execute(
                "SELECT chunk_id, path, title, url FROM chunks WHERE kind = 'document' ORDER BY ordinal"):
            found.setdefault(doc_path, []).append((chunk_id, title, url))
        return generation, found
    finally:
        db.close()


def _done(answer: str, *, abstained: bool, sources: list[SourceRef], latency_ms: float, generation: str | None,
          channel: str) -> DoneEvent:
    return DoneEvent(answer=answer, sources=sources, abstained=abstained, fallback=False,
                     backend="extractive" if abstained else "local", model="SmolLM2-135M-Instruct",
                     generation=generation, prompt_version=f"{'customer' if channel == 'web' else 'agent'}@1",
                     timings_ms={"retrieve": round(latency_ms * 0.08, 1), "total": round(latency_ms, 1)})


def seed_store(store: Store, *, now: float | None = None, days: int = 30, seed: int = 7,
               index_dir: Path | None = None) -> SeedSummary:
    """Write the seeded month into ``store``; returns what was planted."""
    rng = random.Random(seed)
    now = time.time() if now is None else now
    start = now - days * 86_400
    generation, chunks_by_path = _chunk_lookup(index_dir)
    summary = SeedSummary(planted={topic: [] for topic in GAPS})
    fixes: list[tuple[str, str, float]] = []  # (table, id, created_at) rewritten at the end

    def when() -> float:
        # Weekdays busier than weekends, office hours busier than nights.
        while True:
            t = start + rng.random() * (now - start - 600)
            moment = datetime.fromtimestamp(t, UTC)
            weight = (0.4 if moment.weekday() >= 5 else 1.0) * (1.0 if 8 <= moment.hour < 19 else 0.35)
            if rng.random() < weight:
                return t

    def ask(conv: Any, question: str, t: float, *, abstained: bool, sources: Sequence[str] = ()) -> str:
        refs = []
        for n, doc_path in enumerate(sources, 1):
            for chunk_id, title, url in chunks_by_path.get(doc_path, [])[:1]:
                refs.append(SourceRef(n=n, title=title, url=url, source="help-center", audience="public",
                                      chunk_id=chunk_id, path=doc_path))
        answer = ("I'm not sure about that one — I couldn't find it in our help articles. "
                  "Would you like to talk to a person?") if abstained else "Here is how to do that … [1]"
        latency = rng.lognormvariate(7.0 if not abstained else 5.6, 0.45)
        user_turn = store.add_turn(conv.id, "user", question)
        turn_id = store.record_answer(conversation=conv, question=question,
                                      done=_done(answer, abstained=abstained, sources=refs, latency_ms=latency,
                                                 generation=generation, channel=conv.channel))
        fixes.extend([("turns", user_turn, t), ("turns", turn_id, t + latency / 1000), ("audit", turn_id,
                                                                                       t + latency / 1000)])
        summary.questions += 1
        if abstained:
            summary.abstained += 1
        else:
            summary.answered += 1
        return turn_id

    def rate(conv: Any, turn_id: str, rating: int, t: float, comment: str | None = None) -> None:
        fid = store.record_feedback(turn_id=turn_id, rating=rating, channel=conv.channel, comment=comment,
                                    user_id=conv.user_id)
        fixes.append(("feedback", str(fid), t))
        if rating > 0:
            summary.up += 1
        else:
            summary.down += 1

    def hand_off(conv: Any, turn_id: str, question: str, t: float) -> None:
        hid = store.record_handoff(channel=conv.channel, destination="email" if conv.channel == "web" else "slack",
                                   status="sent", payload={"question": question}, conversation_id=conv.id,
                                   turn_id=turn_id)
        fixes.append(("handoffs", hid, t))
        summary.handoffs += 1

    def conversation(channel: str, t: float) -> Any:
        audience: Audience = "public" if channel == "web" else "internal"
        user = f"{'visitor' if channel == 'web' else 'U0'}{rng.randrange(10_000, 99_999)}"
        conv = store.create_conversation(channel=channel, audience=audience, user_id=user,
                                         external_key=f"seed-{rng.getrandbits(48):012x}")
        fixes.append(("conversations", conv.id, t))
        summary.conversations += 1
        return conv

    # Covered questions: answered, mostly fine.
    answerable = _answerable()
    for _ in range(300):
        question, sources = rng.choice(answerable)
        channel = "web" if rng.random() < 0.7 else "slack"
        t = when()
        conv = conversation(channel, t)
        turn = ask(conv, rng.choice(PREFIXES) + question, t, abstained=False, sources=sources)
        roll = rng.random()
        if roll < 0.35:
            rate(conv, turn, 1, t + 40)
        elif roll < 0.39:
            rate(conv, turn, -1, t + 40, rng.choice(DOWN_REASONS["covered"]))
        if rng.random() < 0.3:  # a follow-up in the same conversation
            follow, follow_sources = rng.choice(answerable)
            ask(conv, follow, t + 90, abstained=False, sources=follow_sources)

    # Planted gaps.
    for topic, (failure, questions) in GAPS.items():
        for question in questions:
            asked = rng.choice(PREFIXES) + question
            channel = "web" if rng.random() < 0.75 else "slack"
            t = when()
            conv = conversation(channel, t)
            summary.planted[topic].append(asked)
            if failure == "abstained":
                turn = ask(conv, asked, t, abstained=True)
                if channel == "web" and rng.random() < 0.4:
                    hand_off(conv, turn, asked, t + 60)
            else:  # answered, but not what was asked
                turn = ask(conv, asked, t, abstained=False, sources=["invoicing/creating-and-sending-invoices.md"])
                rate(conv, turn, -1, t + 50, rng.choice(DOWN_REASONS[topic]))
                if rng.random() < 0.5:
                    hand_off(conv, None if rng.random() < 0.5 else turn, asked, t + 120)  # type: ignore[arg-type]

    # Off-topic one-offs.
    for question in OFF_TOPIC:
        t = when()
        conv = conversation("web" if "Ledgerly" not in question else "slack", t)
        ask(conv, question, t, abstained=True)

    with store._connect(write=True) as db:  # backdating is the seed tool's business only
        for table, row_id, t in fixes:
            key = "id" if table != "audit" else "turn_id"
            db.execute(f"UPDATE {table} SET created_at = ? WHERE {key} = ?", (t, row_id))
    return summary


# --------------------------------------------------------------------------- planted ticket topic

TIMESHEET_QUESTIONS = [
    "How do I export my team's timesheets to CSV for payroll?",
    "Can I download all time entries for last month as a spreadsheet?",
    "I need a CSV export of hours logged per employee, where is it?",
    "How can I export time entries so my payroll provider can import them?",
    "Where do I export the timesheet report for all staff?",
    "Is there a way to export logged hours by person and date to Excel?",
]
TIMESHEET_REPLIES = [
    ["Go to Reports > Time > Timesheet export, pick the date range and the team members, then click Export CSV.",
     "The file has one row per time entry with the person, the date, the client, the project and the hours."],
    ["You can do this from Reports > Time > Timesheet export.",
     "Choose the date range and the people you need, then click Export CSV.",
     "Each row of the file is one time entry with person, date, client, project and hours."],
    ["Open Reports > Time > Timesheet export and select last month as the date range, then click Export CSV.",
     "Payroll providers usually import the columns person, date and hours directly."],
    ["The export lives under Reports > Time > Timesheet export.",
     "Select the team members and the date range, then click Export CSV to download the file.",
     "Only admins and owners see this report."],
]


def planted_tickets(*, start_id: int = 90_001, count: int = 8, seed: int = 11) -> dict[str, Any]:
    """A Zendesk-format export of ``count`` resolved tickets on one topic the public help lacks."""
    rng = random.Random(seed)
    tickets, users = [], [{"id": 3100000077, "name": "Robin Agent", "role": "agent", "email": "robin@ledgerly.example"}]
    for i in range(count):
        requester = 3900000000 + i
        users.append({"id": requester, "name": f"Customer {i}", "role": "end-user",
                      "email": f"customer{i}@example.com"})
        question = TIMESHEET_QUESTIONS[i % len(TIMESHEET_QUESTIONS)]
        reply = "Hi there,\n\n" + " ".join(TIMESHEET_REPLIES[i % len(TIMESHEET_REPLIES)]) + "\n\nBest,\nRobin"
        created = datetime(2025, 3, 1 + i, 9, rng.randrange(60), tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        updated = datetime(2025, 3, 2 + i, 15, rng.randrange(60), tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        subject = ["Export timesheets", "Timesheet CSV export", "Export time entries"][i % 3]
        tickets.append({
            "url": f"https://ledgerly.zendesk.com/agent/tickets/{start_id + i}", "id": start_id + i,
            "created_at": created, "updated_at": updated, "type": "question", "subject": subject,
            "description": question, "status": "solved", "requester_id": requester,
            "tags": ["time", "reports", "topic_timesheet_export"],
            "comments": [
                {"id": 1_000_000 + 2 * i, "type": "Comment", "author_id": requester, "body": question,
                 "public": True, "created_at": created},
                {"id": 1_000_001 + 2 * i, "type": "Comment", "author_id": 3100000077, "body": reply,
                 "public": True, "created_at": updated},
            ],
        })
    return {"tickets": tickets, "users": users, "next_page": None, "previous_page": None, "count": len(tickets)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, help="the store to seed (created if missing)")
    parser.add_argument("--index", type=Path, help="data dir whose published generation answers cite")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--now", type=float, help="end of the seeded month (unix time); default now")
    parser.add_argument("--tickets-out", type=Path, help="write the planted ticket topic (Zendesk JSON) here")
    args = parser.parse_args()
    if args.tickets_out:
        args.tickets_out.write_text(json.dumps(planted_tickets(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.tickets_out}")
    if args.store:
        summary = seed_store(Store(args.store), now=args.now, days=args.days, seed=args.seed, index_dir=args.index)
        print(json.dumps({k: v for k, v in summary.to_dict().items() if k != "planted"}))
    if not (args.store or args.tickets_out):
        parser.error("nothing to do: pass --store and/or --tickets-out")


if __name__ == "__main__":
    main()
