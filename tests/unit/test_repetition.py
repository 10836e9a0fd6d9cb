"""The repetition guard ends a looping answer before the loop is shown, and never delays novel text."""

from __future__ import annotations

import pytest

from assistant.repetition import RepetitionGuard

LOOP = (
    "1. Go to Payments and open the payment (or open the invoice).\n"
    "2. Click Refund Payment again to confirm the refund amount.\n"
    "3. Click Refund Payment again to confirm the refund amount.\n"
    "4. Click Refund Payment again to confirm the refund amount.\n"
)


def _run(text: str, step: int) -> tuple[str, bool]:
    guard = RepetitionGuard()
    shown = "".join(guard.feed(text[i:i + step]) for i in range(0, len(text), step)) + guard.finish()
    return shown, guard.stopped


@pytest.mark.parametrize("step", [1, 3, 17, 1000])
def test_a_repeated_list_item_ends_the_answer_before_it_is_shown(step: int) -> None:
    shown, stopped = _run(LOOP, step)
    assert stopped
    assert shown == LOOP.split("3. ")[0]  # items 1 and 2, nothing of the repeats, no dangling "3."


def test_a_repeated_sentence_inside_a_paragraph_ends_the_answer() -> None:
    text = ("Open Settings > Taxes and click Add tax rate to begin. Then choose the rate. "
            "Open Settings > Taxes and click Add tax rate to begin. And so on.")
    shown, stopped = _run(text, 5)
    assert stopped and shown == "Open Settings > Taxes and click Add tax rate to begin. Then choose the rate. "


def test_novel_text_streams_through_at_once() -> None:
    guard = RepetitionGuard()
    assert guard.feed("Refunds take 5 business days") == "Refunds take 5 business days"
    assert guard.feed(" [1].\n") == " [1].\n"


def test_short_units_may_repeat_and_a_normal_answer_is_untouched() -> None:
    text = "Thanks! Thanks!\n\n- Open the payment.\n- Click Refund.\n- Click Refund.\nDone [1]."
    assert _run(text, 4) == (text, False)


def test_a_third_item_opening_like_two_earlier_ones_ends_a_varied_loop() -> None:
    text = ("1. Click Refund Payment. The client receives a confirmation.\n"
            "2. Click Refund Payment again to confirm.\n"
            "3. Click Refund Payment again for another refund.\n"
            "4. Click Refund Payment again; you can choose a full refund.\n")
    shown, stopped = _run(text, 2)
    assert stopped and shown == text.split("4. ")[0]


def test_two_items_opening_alike_are_normal() -> None:
    text = ("- If you pay by card, the refund takes 5 to 10 business days.\n"
            "- If you pay by ACH bank debit, the refund takes up to 7 business days.\n"
            "- Open the payment and click Refund.\n")
    assert _run(text, 3) == (text, False)
