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


def test_the_query_cache_is_the_embedder_for_everything_but_the_cached_query_vector() -> None:
    """The shipped row must score the retriever as it ships: the scope check reads the model's
    vocabulary and the salience signal encodes single terms, both through the embedder."""
    from benchmarks.quality import QueryCache

    class Model:
        model_id = "m"
        calls = 0

        def encode_query(self, text: str) -> list[float]:
            self.calls += 1
            return [float(len(text))]

        def known_words(self) -> frozenset[str]:
            return frozenset({"office"})

    model = Model()
    cache = QueryCache(model)
    assert cache.encode_query("refund") == cache.encode_query("refund") == [6.0]
    assert model.calls == 1
    assert cache.known_words() == frozenset({"office"})
    assert not hasattr(cache, "encode_soon")  # what the embedder lacks, the cache lacks too
