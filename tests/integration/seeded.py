"""The seeded store (examples/tools/make_store.py) for insights, drafts and /admin tests."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

from assistant.config import Settings
from assistant.redact import Redactor

REPO = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0  # fixed: the seeded month ends here, so every run sees the same data


def make_store_module() -> ModuleType:
    """examples/tools/make_store.py, which is a script, not a package module."""
    name = "examples_make_store"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / "tools" / "make_store.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def copy_index(example: Settings, target: Path) -> Settings:
    """A private copy of the shared example index (tests must not write into the shared one)."""
    shutil.copytree(example.data_dir, target, ignore=shutil.ignore_patterns("store.sqlite*", "cache", "locks"))
    return Settings(data_dir=target, _env_file=None)


def topic_of(planted: dict[str, list[str]]) -> dict[str, str]:
    """Redacted, whitespace- and case-folded question -> planted topic, to recognise groups."""
    redactor = Redactor()
    return {" ".join(redactor.redact(q)[0].split()).lower(): topic for topic, qs in planted.items() for q in qs}
