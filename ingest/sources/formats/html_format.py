"""HTML pages: the article, not the site around it.

``nav``, ``aside``, ``footer``, scripts and styles are dropped, and so is a ``header`` that
is not part of the article (the site banner), and so is the furniture of pages whose markup does not
say so (:func:`_drop_site_furniture`: header and footer ``div``s, breadcrumbs, link bars, an in-page
table of contents). The body is ``<main>`` or ``<article>`` when
the page has one. Title: the article's first ``<h1>``, else ``<title>``. ``h1``-``h6`` build
the section path; paragraphs, lists, tables and ``<pre>`` become blocks.
"""

from __future__ import annotations

import re
from typing import Any

from bs4 import BeautifulSoup, NavigableString, Tag

from assistant.schemas import TextBlock

from ..text import normalize_space, one_line
from . import Parsed, SectionPath

_DROP = ("script", "style", "noscript", "template", "nav", "aside", "footer", "svg", "form", "iframe", "button")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_CONTAINERS = frozenset({"div", "section", "article", "main", "body", "header", "figure", "blockquote",
                         "details", "summary", "center", "address", "html", "figcaption", "fieldset"})
_BLOCK_NAMES = _HEADINGS | _CONTAINERS | {"p", "pre", "ul", "ol", "dl", "table", "hr"}
_IN_PAGE = re.compile(r"^#")
_LINK_WORDS = re.compile(r"(?:back\s+to\s+)?top|to\s+top|[↑^¶#]|permalink")
_HEADER_NAME = re.compile(r"^(?:page|site|top|global)?[-_]?header$", re.IGNORECASE)
_FOOTER_NAME = re.compile(r"^(?:page|site|bottom|global)?[-_]?footer$", re.IGNORECASE)
_BREADCRUMB = re.compile(r"breadcrumbs?", re.IGNORECASE)
# What a link bar holds besides its links: separators, and at most a short label ("Languages:").
_LINK_BAR_REST = re.compile(r"\s*(?:[\w ]{1,30}:)?[\s|>›»/·•,\-–]*", re.UNICODE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def declared_charset(data: bytes) -> str | None:
    """The ``<meta charset>`` a page declares: explicit, unlike guessing from byte statistics."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii").lower() if match else None


def parse_html(text: str) -> Parsed:
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for tag in soup.find_all(role=["navigation", "banner", "contentinfo", "search"]):
        tag.decompose()
    for header in soup.find_all("header"):
        if not header.find_parent(("article", "main")):
            header.decompose()
    _drop_site_furniture(soup)
    found = soup.find("main") or soup.find("article") or soup.find("body")
    root: Tag = found if isinstance(found, Tag) else soup

    title = None
    h1 = root.find("h1")
    if isinstance(h1, Tag):
        title = one_line(h1.get_text(" ")) or None
    title_tag = soup.find("title")
    metadata: dict[str, Any] = {}
    if isinstance(title_tag, Tag):
        page_title = one_line(title_tag.get_text(" "))
        if page_title:
            metadata["html_title"] = page_title
            title = title or page_title
    walker = _Walker(title_h1=h1 if isinstance(h1, Tag) and title else None)
    walker.walk(root)
    walker.flush()
    return Parsed(title=title, blocks=walker.blocks, metadata=metadata)


def _drop_site_furniture(soup: BeautifulSoup) -> None:
    """What a site puts around every page, in markup that does not say so (no ``nav``): a header
    ``div`` above the article, a footer ``div`` (copyright, licence), an in-page table of contents,
    breadcrumbs ("Apache > HTTP Server > Documentation"), link bars ("Modules | Directives | FAQ",
    "Available Languages: de | en | fr"), arrow links ("<-") and in-page "top" and "¶" anchors.
    Left in, the same words open the first chunk of every page, blur what it is about and end
    sentences in answers ("… and later. top")."""
    for link in soup.find_all("a", href=_IN_PAGE):
        if _LINK_WORDS.fullmatch(one_line(inline_text(link)).lower()):
            link.decompose()
    _drop_page_chrome(soup, _HEADER_NAME, outside_article_only=True)
    _drop_page_chrome(soup, _FOOTER_NAME, outside_article_only=False)  # copyright and licence lines
    for tag in _named(soup, _BREADCRUMB):
        if not tag.decomposed:
            tag.decompose()
    for listing in soup.find_all(("ul", "ol")):
        if not listing.decomposed and not listing.find_parent("li") and _in_page_contents(listing):
            listing.decompose()
    for block in soup.find_all(("p", "div", "span")):
        if block.decomposed or block.find(_BLOCK_NAMES - {"div", "p"}):
            continue
        links = block.find_all("a")
        if len(links) >= 2:
            rest = "".join(str(t) for t in block.find_all(string=True) if not t.find_parent("a")
                           or t.find_parent("a") not in links)
            if _LINK_BAR_REST.fullmatch(rest):
                block.decompose()
    for link in soup.find_all("a"):
        if not link.decomposed and not any(ch.isalnum() for ch in inline_text(link)):
            link.decompose()


def _drop_page_chrome(soup: BeautifulSoup, pattern: re.Pattern[str], *, outside_article_only: bool) -> None:
    """Elements named like a page header or footer, unless they hold the article's own title
    (``h1``/``h2``) or are the article itself; ``outside_article_only``: only those outside
    ``article``/``main`` (an article may have a header of its own)."""
    for tag in _named(soup, pattern):
        if tag.decomposed or tag.name in ("main", "article", "body", "html") or tag.find(("h1", "h2")):
            continue
        if not outside_article_only or not tag.find_parent(("article", "main")):
            tag.decompose()


def _in_page_contents(listing: Tag) -> bool:
    """A table of contents of the page itself: every item (nested ones too) is only links to
    anchors in this page ("Directives", "Topics", "On this page"). It names sections without saying
    anything; left in, it matched every directive name by keyword and its items became answer
    "sentences". A list with a link elsewhere, or with words of its own, is content."""
    items = listing.find_all("li")
    if not items:
        return False
    for item in items:
        links = item.find_all("a", recursive=True)
        if not links or any(not _IN_PAGE.match(str(a.get("href") or "")) for a in links):
            return False
        own = "".join(str(t) for t in item.find_all(string=True)  # outside links and nested items
                      if t.find_parent("a") is None and t.find_parent("li") is item)
        if any(ch.isalnum() for ch in own):
            return False
    return True


def _named(soup: BeautifulSoup, pattern: re.Pattern[str]) -> list[Tag]:
    """Elements whose ``id`` or one of whose classes matches ``pattern``."""
    return [*soup.find_all(True, attrs={"id": pattern}), *soup.find_all(True, class_=pattern)]


class _Walker:
    def __init__(self, title_h1: Tag | None) -> None:
        self.blocks: list[TextBlock] = []
        self.sections = SectionPath()
        self.title_h1 = title_h1
        self.buffer: list[str] = []

    def add(self, text: str, kind: Any = "text") -> None:
        if text.strip():
            self.blocks.append(TextBlock(section=self.sections.path, text=text, kind=kind))

    def flush(self) -> None:
        if self.buffer:
            self.add(normalize_space("".join(self.buffer)))
            self.buffer = []

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # skips comments, doctypes, CDATA
                    self.buffer.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in _HEADINGS:
                self.flush()
                heading = one_line(child.get_text(" "))
                if child is self.title_h1:
                    self.sections.reset()
                elif heading:
                    self.sections.enter(int(name[1]), heading)
            elif name == "p":
                self.flush()
                self.add(inline_text(child))
            elif name == "pre":
                self.flush()
                self.add(child.get_text().strip("\n"), "code")
            elif name in ("ul", "ol"):
                self.flush()
                self.add("\n".join(_list_lines(child, 0)), "list")
            elif name == "dl":
                self.flush()
                self.add("\n".join(_definition_lines(child)), "list")
            elif name == "table":
                self.flush()
                self.add("\n".join(_table_lines(child)), "table")
            elif name == "br":
                self.buffer.append("\n")
            elif name == "img":
                alt = child.get("alt")
                if isinstance(alt, str):
                    self.buffer.append(alt)
            elif name in _CONTAINERS or child.find(_BLOCK_NAMES):
                self.flush()
                self.walk(child)
                self.flush()
            else:
                self.buffer.append(inline_text(child, normalize=False))


def inline_text(node: Tag, *, normalize: bool = True) -> str:
    out: list[str] = []
    for piece in node.descendants:
        if isinstance(piece, Tag):
            if piece.name == "br":
                out.append("\n")
            elif piece.name == "img" and isinstance(piece.get("alt"), str):
                out.append(str(piece.get("alt")))
        elif type(piece) is NavigableString:
            out.append(str(piece))
    text = "".join(out)
    return normalize_space(text) if normalize else text


def _list_lines(node: Tag, depth: int) -> list[str]:
    lines: list[str] = []
    ordered = node.name == "ol"
    start = str(node.get("start") or "1")
    number = int(start) if start.isdigit() else 1
    for item in node.find_all("li", recursive=False):
        nested = item.find_all(("ul", "ol"), recursive=False)
        for sub in nested:
            sub.extract()
        marker = f"{number}." if ordered else "-"
        text = one_line(inline_text(item))
        lines.append(f"{'  ' * depth}{marker} {text}".rstrip())
        for sub in nested:
            lines.extend(_list_lines(sub, depth + 1))
        number += 1
    return lines


def _definition_lines(node: Tag) -> list[str]:
    lines: list[str] = []
    for item in node.find_all(("dt", "dd")):
        text = one_line(inline_text(item))
        if text:
            if item.name == "dt":  # a term that ends in its own colon or question mark keeps just that
                lines.append(text if text.endswith((":", "?")) else f"{text}:")
            else:
                lines.append(f"  {text}")
    return lines


def _cell_text(cell: Tag) -> str:
    """A cell's text; the items of a list in it joined by commas, not glued into one word."""
    items = cell.find_all("li")
    if not items:
        return one_line(inline_text(cell))
    for item in items:  # mark where each item ends (the table is read once, so marking it is harmless)
        item.append(NavigableString("\x00"))
    return ", ".join(part for part in (one_line(p) for p in inline_text(cell).split("\x00")) if part)


def _table_lines(node: Tag) -> list[str]:
    lines = []
    for row in node.find_all("tr"):
        # A pipe of the cell's own ("On|Off") is escaped as Markdown does: " | " joins the cells.
        cells = [_cell_text(cell).replace("|", "\\|") for cell in row.find_all(("th", "td"), recursive=False)]
        if any(cells):
            lines.append(" | ".join(cells))
    return lines
