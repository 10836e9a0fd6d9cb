"""``sources.yaml``: what to ingest, validated with the file and line of every mistake.

A typo in a nightly job's config should fail in seconds with the line to fix, not after an
hour of embedding. YAML is parsed with a loader that keeps node line numbers, so every
error reads like ``examples/sources.yaml:7: unknown key 'pth' in source 'runbooks' (...)``.
"""

from __future__ import annotations

import codecs
import difflib
import re
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from assistant.errors import ConfigError
from assistant.schemas import Audience

SourceType = Literal["documents", "zendesk", "freshdesk", "jira", "intercom", "csv", "jsonl"]
SOURCE_TYPES: tuple[str, ...] = get_args(SourceType)
TICKET_TYPES: frozenset[str] = frozenset(SOURCE_TYPES) - {"documents"}
GENERIC_TYPES: frozenset[str] = frozenset({"csv", "jsonl"})

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Keys that only mean something for one family of sources; setting them elsewhere is a mistake.
_DOCUMENT_ONLY = ("url_base", "strip_suffix", "include", "exclude")
_TICKET_ONLY = ("resolved_only", "resolved_statuses")
_GENERIC_ONLY = ("columns", "delimiter")


class ColumnMapping(BaseModel):
    """Which column (CSV) or key (JSONL; dots reach into nested objects) holds each field.

    ``id`` and either ``question`` or ``conversation`` are required in every row; the rest
    are used when present. Defaults are the field names themselves.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = "id"
    subject: str | None = "subject"
    question: str | None = "question"
    answer: str | None = "answer"
    conversation: str | None = None
    status: str | None = "status"
    tags: str | None = "tags"
    created: str | None = "created"
    updated: str | None = "updated"
    url: str | None = "url"
    requester: str | None = None  # the requester's name, used for redaction only


class SourceConfig(BaseModel):
    """One entry of ``sources.yaml``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    type: SourceType
    path: Path  # resolved against the sources file's folder
    audience: Audience
    url_base: str | None = None  # documents: citation url = url_base + relative path (posix)
    strip_suffix: bool = False  # documents: url_base + path without its suffix (payments/refunds)
    include: list[str] = ["**/*"]  # globs, documents only
    exclude: list[str] = []
    redact: bool | None = None  # default: True for ticket sources, False for documents
    resolved_only: bool = True  # tickets: only solved/closed by default
    resolved_statuses: list[str] | None = None  # override the vendor default
    # tickets: link when the export has none, e.g. ".../tickets/{id}"; documents: the citation link,
    # e.g. "https://help.example.com/{path_no_suffix}" (placeholders: DOCUMENT_URL_FIELDS)
    url_template: str | None = None
    columns: ColumnMapping | None = None  # csv/jsonl
    delimiter: str | None = None  # csv: default ","
    encoding: str | None = None  # tried after utf-8 for files that are not UTF-8

    @model_validator(mode="after")
    def _fill_defaults(self) -> SourceConfig:
        if self.redact is None:
            self.redact = self.is_tickets
        if self.type in GENERIC_TYPES and self.columns is None:
            self.columns = ColumnMapping()
        return self

    @property
    def is_tickets(self) -> bool:
        return self.type in TICKET_TYPES

    @property
    def should_redact(self) -> bool:
        return bool(self.redact) if self.redact is not None else self.is_tickets


ALLOWED_KEYS: tuple[str, ...] = tuple(SourceConfig.model_fields)
REQUIRED_KEYS: tuple[str, ...] = ("name", "type", "path", "audience")
_COLUMN_KEYS: tuple[str, ...] = tuple(ColumnMapping.model_fields)


# --------------------------------------------------------------------------- YAML with line numbers


class _LineDict(dict[str, Any]):
    """A mapping that remembers the 1-based line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        result = _LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                raise _YamlKeyError(line, f"keys must be text, got {key!r}")
            if key in result:
                raise _YamlKeyError(line, f"duplicate key '{key}' (first at line {result.key_lines[key]})")
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = line
        return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _LineLoader.construct_mapping,
)


class _YamlKeyError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


# --------------------------------------------------------------------------- loading


def load_sources(path: Path) -> list[SourceConfig]:
    """Read and validate a sources file; every mistake raises ConfigError naming file and line."""
    path = Path(path)
    shown = str(path)
    try:
        raw_text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{shown}: sources file not found",
                          hint="pass --config with the path of your sources.yaml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot read the sources file ({exc.__class__.__name__})",
                          hint="it must be a readable UTF-8 YAML file") from None
    try:
        data = yaml.load(raw_text, Loader=_LineLoader)
    except _YamlKeyError as exc:
        raise ConfigError(f"{shown}:{exc.line}: {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise ConfigError(f"{shown}:{line}: invalid YAML: {exc.problem or exc}",
                          hint="check indentation and quoting") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{shown}: invalid YAML: {exc}") from None

    if not isinstance(data, _LineDict) or "sources" not in data:
        raise ConfigError(f"{shown}:1: expected a top-level 'sources:' list",
                          hint="start the file with 'sources:' followed by '- name: ...' entries")
    extra_top = [k for k in data if k != "sources"]
    if extra_top:
        key = extra_top[0]
        raise ConfigError(f"{shown}:{data.key_lines[key]}: unknown top-level key '{key}' (allowed: sources)")
    entries = data["sources"]
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{shown}:{data.key_lines['sources']}: 'sources' must be a non-empty list "
                          "of '- name: ...' entries")

    base = path.parent
    configs: list[SourceConfig] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries, start=1):
        cfg = _parse_entry(entry, index, base, shown, data.key_lines["sources"])
        line = entry.key_lines["name"]
        if cfg.name in seen:
            raise ConfigError(f"{shown}:{line}: duplicate source name '{cfg.name}' "
                              f"(first at line {seen[cfg.name]}); names must be unique")
        seen[cfg.name] = line
        configs.append(cfg)
    return configs


def _parse_entry(entry: Any, index: int, base: Path, shown: str, list_line: int) -> SourceConfig:
    if not isinstance(entry, _LineDict):
        raise ConfigError(f"{shown}:{list_line}: source #{index} must be a mapping of keys "
                          f"(name, type, path, audience, ...), got {type(entry).__name__}")
    label = f"source '{entry['name']}'" if isinstance(entry.get("name"), str) else f"source #{index}"

    def at(key: str | None) -> str:
        line = entry.key_lines.get(key, entry.line) if key else entry.line
        return f"{shown}:{line}"

    for key in entry:
        if key not in ALLOWED_KEYS:
            raise ConfigError(f"{at(key)}: unknown key '{key}' in {label} "
                              f"(allowed: {', '.join(ALLOWED_KEYS)}{_suggest(key, ALLOWED_KEYS)})")
    for key in REQUIRED_KEYS:
        if key not in entry:
            allowed = ""
            if key == "type":
                allowed = f" (one of: {', '.join(SOURCE_TYPES)})"
            elif key == "audience":
                allowed = " (public or internal)"
            raise ConfigError(f"{at(None)}: missing required key '{key}' in {label}{allowed}")
    columns = entry.get("columns")
    if isinstance(columns, _LineDict):
        for key in columns:
            if key not in _COLUMN_KEYS:
                line = columns.key_lines[key]
                raise ConfigError(f"{shown}:{line}: unknown column field '{key}' in {label} "
                                  f"(allowed: {', '.join(_COLUMN_KEYS)}{_suggest(key, _COLUMN_KEYS)})")

    try:
        cfg = SourceConfig.model_validate(dict(entry))
    except ValidationError as exc:
        raise _validation_error(exc, entry, at, label) from None

    if not _NAME_RE.match(cfg.name):
        raise ConfigError(f"{at('name')}: source name '{cfg.name}' may only use letters, digits, "
                          "'.', '_' and '-' (it becomes part of every chunk id)")
    _check_family_keys(cfg, entry, at, label)
    if cfg.encoding is not None:
        try:
            codecs.lookup(cfg.encoding)
        except LookupError:
            raise ConfigError(f"{at('encoding')}: unknown encoding '{cfg.encoding}' in {label} "
                              "(e.g. utf-8, cp1252, latin-1, shift_jis)") from None
    if cfg.delimiter is not None and len(cfg.delimiter) != 1:
        raise ConfigError(f"{at('delimiter')}: delimiter must be one character in {label}")
    _check_url_settings(cfg, entry, at, label)

    resolved = (base / cfg.path.expanduser()).resolve()
    if not resolved.exists():
        raise ConfigError(f"{at('path')}: path '{cfg.path}' of {label} does not exist "
                          f"(looked for {resolved}; relative paths start at the sources file's folder)")
    if cfg.type == "documents" and not resolved.is_dir():
        raise ConfigError(f"{at('path')}: path '{cfg.path}' of {label} must be a directory "
                          "for type 'documents'")
    if cfg.is_tickets and not resolved.is_file():
        raise ConfigError(f"{at('path')}: path '{cfg.path}' of {label} must be a file "
                          f"for type '{cfg.type}'")
    cfg.path = resolved
    return cfg


DOCUMENT_URL_FIELDS: dict[str, str] = {
    "path": "the file's path under the source folder (payments/refunds.md)",
    "path_no_suffix": "the same without the file suffix (payments/refunds)",
    "stem": "the file name without folder or suffix (refunds)",
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _check_url_settings(cfg: SourceConfig, entry: _LineDict, at: Any, label: str) -> None:
    """Citation links: ``url_template`` placeholders exist for the source's family, and a
    documents source uses one way of building links."""
    template = cfg.url_template
    if template is None:
        if cfg.strip_suffix and not cfg.url_base:
            raise ConfigError(f"{at('strip_suffix')}: strip_suffix needs url_base in {label} "
                              "(or use url_template: \"https://help.example.com/{path_no_suffix}\")")
        return
    allowed = tuple(DOCUMENT_URL_FIELDS) if cfg.type == "documents" else ("id",)
    names = _PLACEHOLDER.findall(template)
    for name in names:
        if name not in allowed:
            raise ConfigError(f"{at('url_template')}: unknown placeholder '{{{name}}}' in url_template of {label} "
                              f"(allowed: {', '.join('{' + a + '}' for a in allowed)}{_suggest(name, allowed)})")
    if not names:
        example = "{path_no_suffix}" if cfg.type == "documents" else "{id}"
        raise ConfigError(f"{at('url_template')}: url_template must contain a placeholder such as '{example}' "
                          f"in {label}, or every link would be the same")
    if cfg.type == "documents" and (cfg.url_base is not None or "strip_suffix" in entry):
        key = "url_base" if cfg.url_base is not None else "strip_suffix"
        raise ConfigError(f"{at(key)}: use either url_template or url_base/strip_suffix in {label}, not both")


def _check_family_keys(cfg: SourceConfig, entry: _LineDict, at: Any, label: str) -> None:
    if cfg.type == "documents":
        wrong = [k for k in (*_TICKET_ONLY, *_GENERIC_ONLY) if k in entry]
        family = "ticket sources"
    elif cfg.type in GENERIC_TYPES:
        wrong = [k for k in _DOCUMENT_ONLY if k in entry]
        family = "documents sources"
    else:
        wrong = [k for k in (*_DOCUMENT_ONLY, *_GENERIC_ONLY) if k in entry]
        family = "documents sources" if wrong and wrong[0] in _DOCUMENT_ONLY else "csv/jsonl sources"
    if cfg.type == "jsonl" and "delimiter" in entry:
        wrong = ["delimiter"]
        family = "csv sources"
    if wrong:
        raise ConfigError(f"{at(wrong[0])}: key '{wrong[0]}' does not apply to {label} "
                          f"of type '{cfg.type}' (it is only for {family})")


def _validation_error(exc: ValidationError, entry: _LineDict, at: Any, label: str) -> ConfigError:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    key = loc[0] if loc else None
    line_ref = at(key)
    if key == "columns" and len(loc) > 1 and isinstance(entry.get("columns"), _LineDict):
        columns: _LineDict = entry["columns"]
        line_ref = f"{line_ref.rsplit(':', 1)[0]}:{columns.key_lines.get(loc[1], columns.line)}"
    where = ".".join(loc) or "entry"
    value = err.get("input")
    kind = err["type"]
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        choices = re.findall(r"'([^']*)'", expected)
        hint = _suggest(str(value), choices) if choices else ""
        return ConfigError(f"{line_ref}: {where} '{value}' is not valid in {label} "
                           f"(allowed: {', '.join(choices) or expected}{hint})")
    if kind.startswith("bool"):
        return ConfigError(f"{line_ref}: {where} must be true or false in {label}, got {value!r}")
    if kind in ("list_type",):
        return ConfigError(f"{line_ref}: {where} must be a list in {label}, e.g. {where}: [\"**/*.md\"]")
    if kind in ("string_type", "path_type"):
        return ConfigError(f"{line_ref}: {where} must be text in {label}, got {value!r}")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return ConfigError(f"{line_ref}: {where} must be a mapping of keys in {label}")
    return ConfigError(f"{line_ref}: {where} in {label}: {err['msg']}")
