"""LLM backends behind one interface (docs/architecture.md §6).

Each backend is a LangChain chat model built on :class:`~assistant.llm.base.StreamingChatModel`
(one module per backend: ``tgi``, ``openai_compat``, ``local``); ``extractive`` needs no model.
:func:`assistant.factory.build_llm` turns settings into one. Importing this package loads no
client library and no model.
"""

from __future__ import annotations

from typing import Final

BACKENDS: Final = ("tgi", "openai", "local", "extractive")
EXTRACTIVE: Final = "extractive"


def check_backend(name: str) -> str:
    """``name`` if it is a backend, else a ConfigError that lists the valid ones."""
    from assistant.errors import ConfigError

    if name not in BACKENDS:
        raise ConfigError(f"Unknown LLM backend {name!r}", hint=f"choose one of: {', '.join(BACKENDS)}",
                          code="invalid_backend")
    return name
