"""Ingestion sources: ``sources.yaml`` in, shared records (:mod:`assistant.schemas`) out.

* :mod:`.config` — ``load_sources(path) -> list[SourceConfig]``, errors with file and line.
* :mod:`.documents` — ``list_document_files``, ``file_fingerprint``, ``load_document``; one
  parser per format under :mod:`.formats`.
* :mod:`.tickets` — ``iter_tickets(cfg)`` for every helpdesk; :mod:`.exports` reads the file
  shapes, one module per vendor builds tickets (:mod:`.zendesk`, :mod:`.freshdesk`,
  :mod:`.jira` with :mod:`.adf`, :mod:`.intercom`, :mod:`.generic` for CSV/JSONL).

Loaders never raise for one bad file or row: documents raise :class:`SourceError` per file,
tickets yield it per record, and the ingestion job reports and skips them.
"""
