"""benchmarks/quality.py --grid: how the shipped page-score settings were chosen, every set at once."""

from __future__ import annotations

import pytest

from benchmarks.quality import parse_grid


def test_a_grid_is_one_variant_per_combination_named_by_its_settings() -> None:
    variants = parse_grid("dense_temperature=0.03,0.05; title_weight=2,2.75")
    assert variants == [
        ("dense_temperature=0.03,title_weight=2", {"dense_temperature": 0.03, "title_weight": 2}),
        ("dense_temperature=0.03,title_weight=2.75", {"dense_temperature": 0.03, "title_weight": 2.75}),
        ("dense_temperature=0.05,title_weight=2", {"dense_temperature": 0.05, "title_weight": 2}),
        ("dense_temperature=0.05,title_weight=2.75", {"dense_temperature": 0.05, "title_weight": 2.75}),
    ]


def test_a_grid_axis_without_values_is_refused() -> None:
    with pytest.raises(SystemExit, match="title_weight"):
        parse_grid("dense_temperature=0.05;title_weight")
