"""Text helpers the loaders share: strict decoding, HTML to plain text, whitespace, file titles.

Decoding is strict on purpose: a cp1252 file silently read as latin-1 puts mojibake into the
index, where nobody sees it until an answer quotes it. Undecodable input is an error that
names the fix (``encoding:`` on the source).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from bs4 import BeautifulSoup, NavigableString, Tag

_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_HTML_SPACE = re.compile(r"[ \t\r\n\f]+")
_BLANKS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


class DecodeError(ValueError):
    """Bytes that are not text in any encoding we were allowed to try."""


def decode_bytes(data: bytes, encoding: str | None = None) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, then the configured encoding; else raise."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if encoding:
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                raise DecodeError(f"not valid {encoding} either (byte 0x{data[exc.start]:02x} "
                                  f"at offset {exc.start})") from None
        else:
            raise DecodeError(f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                              "set 'encoding:' on the source (e.g. cp1252) if the files use "
                              "another encoding") from None
    if "\x00" in text:
        raise DecodeError("looks like a binary file (contains NUL bytes), not text")
    return text


def normalize_space(text: str) -> str:
    """Collapse runs of spaces inside lines and of blank lines, keeping paragraph breaks."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def one_line(text: str) -> str:
    return _SPACES.sub(" ", text.replace("\n", " ")).strip()


def table_row(cells: Iterable[str]) -> str:
    """One table row as every format writes it: cells joined by " | ", a pipe of a cell's own
    ("On|Off") escaped as Markdown escapes it, so the join stays unambiguous."""
    return " | ".join(cell.replace("|", "\\|") for cell in cells)


def table_header_rule(columns: int) -> str:
    """The line under a table's header row, as Markdown writes it (``--- | ---``): the chunker
    repeats the header above each piece of a long table, and readers name cells by it."""
    return " | ".join(["---"] * columns)


def pretty_file_title(name: str) -> str:
    """``reset-your-password.md`` -> ``Reset your password``."""
    stem = PurePosixPath(name).stem
    words = re.sub(r"[-_]+", " ", stem).strip()
    return (words[:1].upper() + words[1:]) if words else name


# --------------------------------------------------------------------------- HTML bodies

_BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "main", "blockquote", "pre", "ul", "ol", "li", "dl", "dt", "dd",
    "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "header", "footer", "figure", "address",
})
_INDENT = "\x01"  # survive normalize_space's stripping; become two spaces / one space at the end
_KEEP_SPACE = "\x02"
_DROP_TAGS = ("script", "style", "noscript", "template", "head", "svg")


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (ticket bodies): paragraphs, line breaks and list bullets kept."""
    if "<" not in html and "&" not in html:
        return normalize_space(html)
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    out: list[str] = []
    _render(soup, out)
    return normalize_space("".join(out)).replace(_INDENT, "  ").replace(_KEEP_SPACE, " ")


def _render(node: Tag, out: list[str], depth: int = 0) -> None:
    for child in node.children:
        if isinstance(child, NavigableString):
            if child.__class__.__name__ in ("Comment", "Doctype", "Declaration", "ProcessingInstruction"):
                continue
            out.append(_HTML_SPACE.sub(" ", str(child)))  # source newlines are just spaces in HTML
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name == "br":
            out.append("\n")
        elif name == "pre":
            code = "\n".join(_KEEP_SPACE * (len(line) - len(line.lstrip(" "))) + line.lstrip(" ")
                             for line in child.get_text().split("\n"))
            out.append("\n\n" + code + "\n\n")
        elif name == "li":
            out.append("\n" + _INDENT * depth + "- ")
            _render(child, out, depth + 1)
        elif name == "tr":
            cells = []
            for cell in child.find_all(("td", "th"), recursive=False):
                parts: list[str] = []
                _render(cell, parts, depth)
                cells.append(one_line("".join(parts)))
            out.append("\n" + " | ".join(cells))
        elif name == "img":
            alt = child.get("alt")
            if isinstance(alt, str) and alt.strip():
                out.append(alt)
        elif name in ("ul", "ol") and depth > 0:
            _render(child, out, depth)
        elif name in _BLOCK_TAGS:
            out.append("\n\n")
            _render(child, out, depth)
            out.append("\n\n")
        else:
            _render(child, out, depth)
