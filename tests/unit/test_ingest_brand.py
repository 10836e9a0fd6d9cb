"""Ingest reminds whoever indexes their own documents that answers still speak as the demo's product."""

from __future__ import annotations

from pathlib import Path

from assistant.config import BrandSettings
from ingest.cli import EXAMPLE_SOURCES, brand_reminder


def test_the_demo_brand_on_someone_elses_documents_gets_a_reminder(tmp_path: Path) -> None:
    """Indexing the Apache manual with the defaults, every answer opened with "Here is what the
    Ledgerly help material says about this"."""
    reminder = brand_reminder(BrandSettings(), tmp_path / "sources.yaml")
    assert reminder is not None
    assert "Ledgerly" in reminder and "ASSISTANT_BRAND_PRODUCT_NAME" in reminder


def test_no_reminder_for_the_example_corpus_or_a_brand_of_ones_own(tmp_path: Path) -> None:
    assert brand_reminder(BrandSettings(), EXAMPLE_SOURCES) is None
    assert brand_reminder(BrandSettings(product_name="PostgreSQL", company_name="PGDG"),
                          tmp_path / "sources.yaml") is None
