"""Document sources: a directory tree of Markdown, HTML, PDF, DOCX and plain text.

Globs in ``include``/``exclude`` follow ``.gitignore`` habits: a pattern with a ``/`` matches
the path relative to the source root (``drafts/**``), one without matches the file name at
any depth (``*.md``); ``**`` spans folders. Hidden files and folders (``.git``, ``.DS_Store``)
and Office lock files (``~$x.docx``) are never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from assistant.errors import SourceError
from assistant.schemas import Document, TextBlock

from .config import SourceConfig
from .formats import Parsed, ParseError
from .formats.docx_format import parse_docx
from .formats.html_format import declared_charset, parse_html
from .formats.markdown_format import parse_markdown
from .formats.pdf_format import parse_pdf
from .text import DecodeError, decode_bytes, normalize_space, pretty_file_title, table_row

SUPPORTED_SUFFIXES: dict[str, str] = {
    ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html",
    ".pdf": "pdf", ".docx": "docx", ".txt": "text",
}
PARSER_VERSION = "documents-1"  # bump when a parser's output changes, so fingerprints change
_READ_CHUNK = 1 << 20


# --------------------------------------------------------------------------- listing


def list_document_files(cfg: SourceConfig) -> list[tuple[str, Path]]:
    """(relative POSIX key, absolute path) of every supported file the globs select, sorted by key."""
    root = Path(cfg.path)
    include = [_glob_regex(p) for p in cfg.include]
    exclude = [_glob_regex(p) for p in cfg.exclude]
    found: list[tuple[str, Path]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith((".", "~$")) or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            path = Path(folder) / name
            key = path.relative_to(root).as_posix()
            if any(_matches(rx, key) for rx in include) and not any(_matches(rx, key) for rx in exclude):
                found.append((key, path.resolve()))
    found.sort(key=lambda item: item[0])
    return found


def _matches(compiled: tuple[re.Pattern[str], bool], key: str) -> bool:
    regex, whole_path = compiled
    return bool(regex.fullmatch(key if whole_path else PurePosixPath(key).name))


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> tuple[re.Pattern[str], bool]:
    pattern = pattern.strip().lstrip("/") if pattern.strip().startswith("/") else pattern.strip()
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out)), "/" in pattern


# --------------------------------------------------------------------------- fingerprints


def _options_blob(cfg: SourceConfig) -> bytes:
    options: dict[str, object] = {"v": PARSER_VERSION, "source": cfg.name, "audience": cfg.audience,
                                  "url_base": cfg.url_base, "redact": cfg.should_redact, "encoding": cfg.encoding}
    if cfg.url_template or cfg.strip_suffix:  # only when set, so older fingerprints stay valid
        options["url"] = [cfg.url_template, cfg.strip_suffix]
    return json.dumps(options, sort_keys=True).encode("utf-8") + b"\0"


def file_fingerprint(path: Path, cfg: SourceConfig) -> str:
    """sha256 of the file's bytes and the options that change its Document; streamed, so cheap nightly."""
    digest = hashlib.sha256(_options_blob(cfg))
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _bytes_fingerprint(data: bytes, cfg: SourceConfig) -> str:
    digest = hashlib.sha256(_options_blob(cfg))
    digest.update(data)
    return digest.hexdigest()


# --------------------------------------------------------------------------- loading


def load_document(cfg: SourceConfig, key: str, path: Path, *, max_bytes: int) -> Document:
    """Parse one file; anything unusable raises SourceError naming the path and the reason."""
    shown = str(path)
    fmt = SUPPORTED_SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise SourceError(f"unsupported file type '{Path(path).suffix}'", path=shown,
                          hint=f"supported: {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        size = Path(path).stat().st_size
        if size > max_bytes:
            raise SourceError(f"file is {_human(size)}, over the {_human(max_bytes)} limit", path=shown,
                              hint="raise the ingestion max file size setting or split the file")
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read the file ({exc.strerror or exc.__class__.__name__})", path=shown) from None
    if not data.strip():
        raise SourceError("the file is empty", path=shown)
    try:
        parsed = _PARSERS[fmt](data, cfg)
    except (ParseError, DecodeError) as exc:
        raise SourceError(str(exc), path=shown) from None
    blocks = [b for b in parsed.blocks if b.text.strip()]
    if not blocks:
        raise SourceError("no text after parsing (the file has no readable content)", path=shown)
    return Document(
        source=cfg.name,
        key=key,
        path=key,
        title=parsed.title or pretty_file_title(key),
        audience=cfg.audience,
        url=source_document_url(cfg, key),
        blocks=blocks,
        fingerprint=_bytes_fingerprint(data, cfg),
        metadata={"format": fmt, "bytes": len(data), **parsed.metadata},
    )


def source_document_url(cfg: SourceConfig, key: str) -> str | None:
    """The citation link of the file ``key`` (its path under the source folder), from the
    source's ``url_template``, or ``url_base`` (+ the path without its suffix with ``strip_suffix``)."""
    posix = PurePosixPath(key)
    no_suffix = str(posix.with_suffix("")) if posix.suffix else key
    if cfg.url_template:
        fields = {"path": quote(key, safe="/"), "path_no_suffix": quote(no_suffix, safe="/"),
                  "stem": quote(posix.stem, safe="")}
        return cfg.url_template.format_map(fields)
    return document_url(cfg.url_base, no_suffix if cfg.strip_suffix else key)


def document_url(url_base: str | None, key: str) -> str | None:
    if not url_base:
        return None
    joiner = "" if url_base.endswith(("/", "=", "#")) else "/"
    return url_base + joiner + quote(key, safe="/")


def _human(size: int) -> str:
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} MB"
    if size >= 1 << 10:
        return f"{size / (1 << 10):.1f} KB"
    return f"{size} bytes"


def _parse_text(data: bytes, cfg: SourceConfig) -> Parsed:
    """Paragraphs, column-aligned runs as tables, and underlined lines as headings: the first, on
    the first line, is the page's title ("Keyboard shortcuts in the Ledgerly web app" over "====");
    a later one ("Troubleshooting" over "----") starts a section, as in Markdown."""
    text = decode_bytes(data, cfg.encoding)
    blocks: list[TextBlock] = []
    title: str | None = None
    section: tuple[str, ...] = ()
    for paragraph in re.split(r"\n\s*\n", text):
        lines = paragraph.strip("\n").splitlines()
        if len(lines) >= 2 and _UNDERLINE.fullmatch(lines[1]) and 0 < len(lines[0].strip()) <= MAX_HEADING_CHARS:
            heading = normalize_space(lines[0])
            if title is None and not blocks and not section:
                title = heading
            else:
                section = (heading,)
            lines = lines[2:]
        lines = [line for line in lines if not _RULE_LINE.fullmatch(line)]
        if not "".join(lines).strip():
            continue
        start = _aligned_rows(lines)
        if start is None:
            blocks.append(TextBlock(section=section, text=normalize_space("\n".join(lines))))
            continue
        if start:
            blocks.append(TextBlock(section=section, text=normalize_space("\n".join(lines[:start]))))
        rows = [table_row(_COLUMN_GAP.split(line.strip())) for line in lines[start:]]
        blocks.append(TextBlock(section=section, text="\n".join(rows), kind="table"))
    return Parsed(title=title, blocks=blocks)


_COLUMN_GAP = re.compile(r"\s{2,}")
# A line that only underlines a title ("Keyboard shortcuts\n=====") or rules a break: no words to quote.
_RULE_LINE = re.compile(r"[ \t]*(?:={3,}|-{3,}|\*{3,}|_{3,})[ \t]*")
_UNDERLINE = re.compile(r"[ \t]*(?:={3,}|-{3,})[ \t]*")  # under a short line: a heading (Markdown's setext)
MAX_HEADING_CHARS = 100


def _aligned_rows(lines: list[str]) -> int | None:
    """Where a paragraph's closing run of column-aligned lines starts ("  N then I    New invoice",
    "  G then D    Dashboard": cells apart by two or more spaces, each column starting at the same
    place on every line), when two or more lines make one; None otherwise. Prose that puts two
    spaces after a full stop does not line its sentences up in columns."""
    def columns(line: str) -> list[int] | None:
        starts = [m.end() for m in _COLUMN_GAP.finditer(line.rstrip()) if m.start() > len(line) - len(line.lstrip())]
        return [len(line) - len(line.lstrip()), *starts] if starts else None

    layout = columns(lines[-1]) if lines else None
    if layout is None:
        return None
    start = len(lines) - 1
    while start > 0 and columns(lines[start - 1]) == layout:
        start -= 1
    return start if len(lines) - start >= 2 else None


def _parse_markdown(data: bytes, cfg: SourceConfig) -> Parsed:
    return parse_markdown(decode_bytes(data, cfg.encoding))


def _parse_html(data: bytes, cfg: SourceConfig) -> Parsed:
    return parse_html(decode_bytes(data, cfg.encoding or declared_charset(data)))


_PARSERS: dict[str, Callable[[bytes, SourceConfig], Parsed]] = {
    "markdown": _parse_markdown,
    "html": _parse_html,
    "pdf": lambda data, cfg: parse_pdf(data),
    "docx": lambda data, cfg: parse_docx(data),
    "text": _parse_text,
}
