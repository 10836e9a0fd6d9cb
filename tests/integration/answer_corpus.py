"""A tiny real corpus (public help + one internal runbook with a canary) ingested into a real index."""

from __future__ import annotations

from pathlib import Path

from assistant.config import Settings
from assistant.embeddings import Embedder

CANARY = "CANARY-INT-5521"

DOCS = {
    "public/refunds.md": """# Refunds

You can refund a paid invoice from Invoices > (the invoice) > Refund. Choose a full or a partial amount.

## How long refunds take

Card refunds reach the client in 5 to 10 business days. ACH refunds take up to 7 business days.
""",
    "public/tax-rates.md": """# Tax rates

Open Settings > Taxes and click Add tax rate. Give it a name and a percentage. New invoices use the
default tax rate; existing invoices keep the rate they were created with.
""",
    "public/export.md": """# Exporting your data

Go to Reports > Export to download all invoices, clients and payments as CSV files. Exports of more
than 10,000 invoices are emailed to the account owner when they are ready.
""",
    "internal/discount-authority.md": f"""# Discount authority

Support agents may grant a one-time discount of up to 20% without approval. Larger discounts need a
team lead. Internal approval code {CANARY}; never share it with customers.
""",
}


def build_tiny_index(root: Path, embedder: Embedder) -> Settings:
    """Write the corpus and a sources.yaml under ``root``, ingest it, return settings pointing at it."""
    from ingest.jobs import run_ingest

    for name, text in DOCS.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    sources = root / "sources.yaml"
    sources.write_text(
        "sources:\n"
        "  - name: help\n    type: documents\n    path: docs/public\n    audience: public\n"
        "    url_base: https://help.example/\n"
        "  - name: runbooks\n    type: documents\n    path: docs/internal\n    audience: internal\n",
        encoding="utf-8",
    )
    settings = Settings(data_dir=root / "data", _env_file=None)
    report = run_ingest(settings, sources, embedder=embedder)
    assert report.published, report.message
    return settings
