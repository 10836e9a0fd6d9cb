"""PII redaction for ingestion: re-exports :mod:`assistant.redact`.

The redactor moved to ``assistant/`` so that the core (coverage-gap reports, ticket -> article
drafts) can redact questions without importing ``ingest`` (docs/architecture.md §1). Ingestion code
and its tests keep importing from here.
"""

from assistant.redact import PLACEHOLDERS, Redactor, luhn_ok, redact_document, redact_ticket

__all__ = ["PLACEHOLDERS", "Redactor", "luhn_ok", "redact_document", "redact_ticket"]
