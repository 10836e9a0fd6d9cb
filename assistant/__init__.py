"""Core of the support assistant: shared records, settings, index, retrieval and the answer pipeline.

Layering (docs/architecture.md §1): ``ingest`` and ``bots`` import this package, never the reverse.
Nothing is built at import time; :mod:`assistant.factory` turns settings into parts.
"""

__version__ = "0.1.0"
