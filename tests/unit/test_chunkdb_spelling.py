"""Edit distance for respelling a customer's typos against the index's words."""

from __future__ import annotations

import pytest

from assistant.chunkdb import edit_distance


@pytest.mark.parametrize(("a", "b", "distance"), [
    ("refnd", "refund", 1),  # a letter left out
    ("paymnet", "payment", 1),  # two neighbours swapped count as one edit
    ("invoce", "invoice", 1),
    ("authentif", "authent", 2),
    ("payout", "payout", 0),
])
def test_edit_distance_counts_a_swap_of_neighbours_as_one_edit(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b, 2) == distance


def test_edit_distance_stops_at_the_limit() -> None:
    assert edit_distance("toddler", "toler", 1) == 2  # over the limit: limit + 1
    assert edit_distance("carpet", "car", 1) == 2
