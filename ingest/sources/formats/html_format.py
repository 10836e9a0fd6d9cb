"""HTML pages: the article, not the site around it.

``nav``, ``aside``, ``footer``, scripts and styles are dropped, and so is a ``header`` that
is not part of the article (the site banner), and so is the furniture of pages whose markup does not
say so (:func:`_drop_site_furniture`: header and footer ``div``s, breadcrumbs, link bars, an in-page
table of contents). The body is ``<main>`` or ``<article>`` when
the page has one. Title: the article's first ``<h1>``, else ``<title>``. ``h1``-``h6`` build
the section path; paragraphs, lists, tables and ``<pre>`` become blocks. A table's caption (its
``<caption>``, or a numbered "Table 2: …" heading or DocBook ``p.title`` right before it) is the
section of its rows only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bs4 import BeautifulSoup, NavigableString, PageElement, Tag

from assistant.schemas import TextBlock

from ..text import normalize_space, one_line, table_header_rule, table_row
from . import Parsed, SectionPath, same_text

_DROP = ("script", "style", "noscript", "template", "nav", "aside", "footer", "svg", "form", "iframe", "button")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_CONTAINERS = frozenset({"div", "section", "article", "main", "body", "header", "figure", "blockquote",
                         "details", "summary", "center", "address", "html", "figcaption", "fieldset"})
_BLOCK_NAMES = _HEADINGS | _CONTAINERS | {"p", "pre", "ul", "ol", "dl", "table", "hr"}
_PAGE_ROOTS = ("main", "article", "body", "html")  # never dropped as furniture: they are the page
_IN_PAGE = re.compile(r"^#")
_LINK_WORDS = re.compile(r"(?:back\s+to\s+)?top|to\s+top|[↑^¶#]|permalink")
# "navheader"/"navfooter": DocBook's tables naming the previous, next and parent pages.
_HEADER_NAME = re.compile(r"^(?:page|site|top|global|nav)?[-_]?header$", re.IGNORECASE)
_FOOTER_NAME = re.compile(r"^(?:page|site|bottom|global|nav)?[-_]?footer$", re.IGNORECASE)
_TOC_NAME = re.compile(r"^(?:toc|table[-_]of[-_]contents|(?:page|local|markdown)[-_]toc|contents)$", re.IGNORECASE)
# At most this many letters outside the links of a table of contents: its label ("Table of Contents").
_TOC_OWN_LETTERS = 40
_ADMONITION = re.compile(r"^(?:note|tip|warning|caution|important|hint|danger|attention|admonition|callout)$",
                         re.IGNORECASE)
SUBSECTION_MIN_CHARS = 120  # the mean length of a definition list's descriptions for terms to head subsections
DIRECTORY_SHARE = 0.8  # a definition list whose terms link elsewhere this often is a directory (an index)
DIRECTORY_MIN_TERMS = 20  # ... and with this many terms, a directory is navigation, not content,
DESCRIPTION_MIN_LETTERS = 20  # unless its descriptions average more letters than this of their own
_ADMONITION_TITLE = re.compile(r"^(?:admonition-)?title$")
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")  # HTML's own whitespace (not U+00A0): one space when rendered
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
    navigation_only = _drop_site_furniture(soup)
    found = soup.find("main") or soup.find("article") or soup.find("body")
    root: Tag = found if isinstance(found, Tag) else soup

    title = None
    h1 = root.find("h1")
    if isinstance(h1, Tag):
        title = heading_text(h1) or None
    title_tag = soup.find("title")
    metadata: dict[str, Any] = {"navigation_only": True} if navigation_only else {}
    if isinstance(title_tag, Tag):
        page_title = heading_text(title_tag)
        if page_title:
            metadata["html_title"] = page_title
            title = title or page_title
    if not isinstance(h1, Tag) and title:
        # No h1: a first heading that repeats <title> is the page's title (DocBook heads a section's
        # page with h2), not a section every chunk of the page would carry in its path.
        first = root.find(_HEADINGS)
        if isinstance(first, Tag) and same_text(heading_text(first), title):
            h1 = first
    walker = _Walker(title_h1=h1 if isinstance(h1, Tag) and title else None)
    walker.walk(root)
    walker.flush()
    return Parsed(title=title, blocks=walker.blocks, metadata=metadata)


def _drop_site_furniture(soup: BeautifulSoup) -> bool:
    """What a site puts around every page, in markup that does not say so (no ``nav``): a header
    ``div`` above the article, a footer ``div`` (copyright, licence), an in-page table of contents,
    breadcrumbs ("Apache > HTTP Server > Documentation"), link bars ("Modules | Directives | FAQ",
    "Available Languages: de | en | fr"), arrow links ("<-") and in-page "top" and "¶" anchors.
    Left in, the same words open the first chunk of every page, blur what it is about and end
    sentences in answers ("… and later. top"). True when the page is nothing but navigation lists
    (:func:`_drop_navigation_lists`)."""
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
    # Only a block holding two links or more can be a link bar. Counted once, from each link up: asking
    # every block (a Sphinx page has thousands of spans) took most of the parse of a large page.
    link_counts: dict[int, int] = {}
    for link in soup.find_all("a"):
        for parent in link.parents:
            if parent.name in ("p", "div", "span"):
                link_counts[id(parent)] = link_counts.get(id(parent), 0) + 1
    for block in soup.find_all(("p", "div", "span")):
        if link_counts.get(id(block), 0) < 2 or block.decomposed or block.find(_BLOCK_NAMES - {"div", "p"}):
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
    return _drop_navigation_lists(soup)  # last: whether the page says more is judged without the rest


def _drop_page_chrome(soup: BeautifulSoup, pattern: re.Pattern[str], *, outside_article_only: bool) -> None:
    """Elements named like a page header or footer, unless they hold the article's own title
    (``h1``/``h2``) or are the article itself; ``outside_article_only``: only those outside
    ``article``/``main`` (an article may have a header of its own)."""
    for tag in _named(soup, pattern):
        if tag.decomposed or tag.name in _PAGE_ROOTS or tag.find(("h1", "h2")):
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


def _drop_navigation_lists(soup: BeautifulSoup) -> bool:
    """Lists that only lead elsewhere: elements named as a table of contents (DocBook's ``div.toc``,
    ``#toc``, ``.contents``) that are links and at most a label, and directories (definition lists
    whose terms link elsewhere, ``DIRECTORY_MIN_TERMS`` terms in all: a book's index, a part's command
    list). They repeat the titles and terms of other pages: a chapter's page matched every question
    about its sections, and the PostgreSQL manual's index page came up among the first five pages for
    19 of 150 of its own headings. A page that is nothing else keeps them and says so (True): the
    loader skips it rather than failing it for having no text."""
    found: list[Tag] = []
    for tag in _named(soup, _TOC_NAME):
        if not tag.decomposed and tag.name not in _PAGE_ROOTS and tag.find("a") \
                and _own_letters(tag) <= _TOC_OWN_LETTERS:
            found.append(tag)
    directories = [listing for listing in soup.find_all("dl") if not listing.decomposed
                   and listing.find_parent("dl") is None and _is_directory(listing) and not _describes(listing)]
    if sum(len(_terms(listing)) for listing in directories) >= DIRECTORY_MIN_TERMS:
        found.extend(directories)  # an index is one list per letter, some of them short
    found = [tag for tag in found if not any(other in tag.parents for other in found)]
    if not found:
        return False
    if not _says_more_than(soup.find("body") or soup, found):
        return True
    for tag in found:
        tag.decompose()
    return False


def _says_more_than(body: Tag, parts: list[Tag]) -> bool:
    """Whether the page has words outside ``parts`` and its headings."""
    skipped = {id(t) for t in parts}
    return any(type(text) is NavigableString and any(ch.isalnum() for ch in text)
               and not any(id(p) in skipped or p.name in _HEADINGS for p in text.parents)
               for text in body.find_all(string=True))


def _admonition_label(node: Tag) -> str | None:
    """The heading of a note, tip or warning box ("Note"), taken out of the box: it labels the box's
    text. As a heading it closed the section the box sits in."""
    classes: list[str] = list(node.get("class") or [])
    if not any(_ADMONITION.match(c) for c in classes):
        return None
    heading = node.find(_HEADINGS) or node.find("p", class_=_ADMONITION_TITLE)  # Sphinx: p.admonition-title
    if not isinstance(heading, Tag):
        return None
    label = heading_text(heading)
    if not label or len(label.split()) > 4:
        return None
    heading.decompose()
    return label


def _named(soup: BeautifulSoup, pattern: re.Pattern[str]) -> list[Tag]:
    """Elements whose ``id`` or one of whose classes matches ``pattern`` (those by id first). One walk
    over the tags, matched here: BeautifulSoup's own attribute filters cost seconds on a large page."""
    by_id: list[Tag] = []
    by_class: list[Tag] = []
    for tag in soup.find_all(True):
        ident = tag.get("id")
        if isinstance(ident, str) and pattern.search(ident):
            by_id.append(tag)
        classes = tag.get("class")
        if classes and (any(pattern.search(c) for c in classes) or pattern.search(" ".join(classes))):
            by_class.append(tag)
    return [*by_id, *by_class]


class _Walker:
    def __init__(self, title_h1: Tag | None) -> None:
        self.blocks: list[TextBlock] = []
        self.sections = SectionPath()
        self.title_h1 = title_h1
        self.buffer: list[str] = []
        self.label: str | None = None  # an admonition's heading, for its first block
        self.caption: str | None = None  # a numbered title that only names the table after it

    def add(self, text: str, kind: Any = "text", *, caption: str | None = None) -> None:
        if text.strip():
            if self.label and kind != "code":
                text = f"{self.label} {text}" if self.label.endswith((":", "?")) else f"{self.label}: {text}"
                self.label = None
            section = (*self.sections.path, caption) if caption else self.sections.path
            self.blocks.append(TextBlock(section=section, text=text, kind=kind))

    def flush(self) -> None:
        if self.buffer:
            self.add(normalize_space("".join(self.buffer)))
            self.buffer = []

    def walk(self, node: Tag) -> None:
        self.walk_nodes(node.children)

    def walk_nodes(self, children: Iterable[PageElement]) -> None:
        for child in children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # skips comments, doctypes, CDATA
                    self.buffer.append(_HTML_SPACE.sub(" ", str(child)))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in _HEADINGS:
                self.flush()
                heading = heading_text(child)
                if child is self.title_h1:
                    self.sections.reset()
                elif heading and _names_next_table(child, heading):
                    self.caption = heading
                elif heading:
                    self.sections.enter(int(name[1]), heading)
            elif name == "p":
                self.flush()
                text = inline_text(child)
                if _names_next_table(child, text):  # DocBook: <p class="title"> in a div.table
                    self.caption = one_line(text)
                else:
                    self.add(text)
            elif name == "pre":
                self.flush()
                self.add(child.get_text().strip("\n"), "code")
            elif name in ("ul", "ol"):
                self.flush()
                if _has_block_items(child):
                    self.block_list(child)
                else:
                    self.add("\n".join(_list_lines(child, 0)), "list")
            elif name == "dl":
                self.flush()
                if _has_block_definitions(child):
                    self.definitions(child)
                else:
                    self.add("\n".join(_definition_lines(child)), "list")
            elif name == "table":
                self.flush()
                caption, self.caption = self.caption or _caption(child), None
                self.add("\n".join(_table_lines(child)), "table", caption=caption)
            elif name == "br":
                self.buffer.append("\n")
            elif name == "img":
                alt = child.get("alt")
                if isinstance(alt, str):
                    self.buffer.append(alt)
            elif name in _CONTAINERS or child.find(_BLOCK_NAMES):
                self.flush()
                label = _admonition_label(child)
                if label:
                    self.label = label
                self.walk(child)
                self.flush()
                if label:
                    self.label = None
            else:
                self.buffer.append(inline_text(child, normalize=False))

    def block_list(self, node: Tag) -> None:
        """A list whose items hold paragraphs or code (a manual's procedure: "Stop both servers",
        then the commands, then a remark): each item's first words are its numbered line, and the
        rest of the item is read as the page's own blocks, so a command keeps its lines and fence.
        A step's title (DocBook's ``p.title``, or a paragraph that is only bold text) labels the
        step's first paragraph, as an admonition's heading does."""
        ordered = node.name == "ol"
        start = str(node.get("start") or "1")
        number = int(start) if start.isdigit() else 1
        for item in node.find_all("li", recursive=False):
            marker = f"{number}." if ordered else "-"
            number += 1
            rest = list(item.children)
            inline: list[PageElement] = []
            while rest and not _is_block(rest[0]):
                inline.append(rest.pop(0))
            self.walk_nodes(inline)  # the item's own words before its first block, read as any inline text
            text, self.buffer = normalize_space("".join(self.buffer)), []
            first = rest[0] if rest else None
            if not text and isinstance(first, Tag) and first.name == "p":
                rest.pop(0)
                text = inline_text(first)
                following = next((i for i, n in enumerate(rest) if isinstance(n, Tag) or str(n).strip()), None)
                body = rest[following] if following is not None else None
                if _is_step_title(first) and isinstance(body, Tag) and body.name == "p":
                    rest.remove(body)
                    said = inline_text(body)
                    text = f"{text} {said}" if text.endswith((":", "?", ".", "!")) else f"{text}: {said}"
            if text:
                self.add(f"{marker} {one_line(text)}", "list")
            self.walk_nodes(rest)
            self.flush()

    def definitions(self, node: Tag) -> None:
        """A definition list whose descriptions are paragraphs, code or lists (a manual's settings,
        a command's options, a FAQ): each term heads its description as a subsection, one level
        below the current one, closed again after the list."""
        level = self.sections.depth + 1
        terms: list[str] = []
        for item in _definition_items(node):
            if item.name == "dt":
                term = one_line(inline_text(item))
                if term:
                    terms.append(term)
                continue
            self.flush()
            if terms:
                self.sections.enter(level, ", ".join(terms))
                terms = []
            if item.find(_BLOCK_NAMES):
                self.walk(item)
                self.flush()
            else:
                self.add(inline_text(item))
        self.flush()
        if terms:  # terms without a description: still words of the page
            self.add(", ".join(terms))
        self.sections.leave(level)


_NO_SPACE_BEFORE = frozenset(",.;:!?)]}")
_NO_SPACE_AFTER = frozenset("([{")


def heading_text(node: Tag) -> str:
    """A heading's text on one line: its elements' texts joined by a space where the page has
    none between them ("<span>7.2.4.</span><span>Queries</span>"), but not before punctuation
    ("<code>GROUPING SETS</code>, <code>CUBE</code>": no "GROUPING SETS , CUBE")."""
    out = ""
    for piece in node.descendants:
        if type(piece) is not NavigableString:
            continue
        text = _HTML_SPACE.sub(" ", str(piece))
        if out and text and not out[-1].isspace() and not text[0].isspace() \
                and text[0] not in _NO_SPACE_BEFORE and out[-1] not in _NO_SPACE_AFTER:
            out += " "
        out += text
    return one_line(out)


def inline_text(node: Tag, *, normalize: bool = True) -> str:
    """The text as a browser lays it out: the source's line breaks are spaces, ``<br>`` is a line
    break, and so is a line of a ``<pre>``."""
    out: list[str] = []
    for piece in node.descendants:
        if isinstance(piece, Tag):
            if piece.name == "br":
                out.append("\n")
            elif piece.name == "img" and isinstance(piece.get("alt"), str):
                out.append(str(piece.get("alt")))
        elif type(piece) is NavigableString:
            text = str(piece)
            out.append(text if piece.find_parent("pre") else _HTML_SPACE.sub(" ", text))
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


_ITEM_BLOCKS = ("p", "pre", "div", "table", "dl")


def _is_block(node: PageElement) -> bool:
    return isinstance(node, Tag) and (node.name in _BLOCK_NAMES or node.find(_BLOCK_NAMES) is not None)


def _has_block_items(node: Tag) -> bool:
    """Some item holds code, or more than one paragraph: the list is a procedure to read block by
    block (:meth:`_Walker.block_list`). Items of one paragraph each, with or without a nested list
    (Sphinx wraps every item in a ``<p>``), stay one list of lines."""
    for item in node.find_all("li", recursive=False):
        if item.find("pre") is not None or len(item.find_all(_ITEM_BLOCKS, recursive=False)) >= 2:
            return True
    return False


def _is_step_title(paragraph: Tag) -> bool:
    """DocBook's ``<p class="title"><strong>Stop both servers</strong></p>``, or any paragraph that
    is nothing but bold text."""
    if "title" in (paragraph.get("class") or []):
        return True
    own = [n for n in paragraph.children if isinstance(n, Tag) or str(n).strip()]
    return len(own) == 1 and isinstance(own[0], Tag) and own[0].name in ("strong", "b")


def _definition_items(node: Tag) -> list[Tag]:
    """A ``dl``'s own terms and descriptions, also when grouped in ``div``s (HTML allows it), not
    those of lists nested in its descriptions."""
    items: list[Tag] = []
    for child in node.find_all(True, recursive=False):
        if child.name in ("dt", "dd"):
            items.append(child)
        elif child.name == "div":
            items.extend(child.find_all(("dt", "dd"), recursive=False))
    return items


def _has_block_definitions(node: Tag) -> bool:
    """Descriptions with paragraphs, code or lists of their own, a few sentences long on average,
    unless the list is a directory: terms that link elsewhere (a book's index, a part's contents
    with each entry's purpose)."""
    items = _definition_items(node)
    descriptions = [item for item in items if item.name == "dd"]
    if not any(item.find(_BLOCK_NAMES) for item in descriptions):
        return False
    if sum(len(one_line(d.get_text(" "))) for d in descriptions) < SUBSECTION_MIN_CHARS * len(descriptions):
        return False  # a function's arguments, a message's fields: a list reads them better than 2-line chunks
    return not _is_directory(node)


def _describes(node: Tag) -> bool:
    """Whether a definition list's descriptions say something of their own (a module list's "Core
    features that are always available"), beyond links and the sub-entries of an index."""
    descriptions = [item for item in _definition_items(node) if item.name == "dd"]
    own = sum(_own_letters(dd, in_list=node) for dd in descriptions)
    return own > DESCRIPTION_MIN_LETTERS * max(len(descriptions), 1)


def _own_letters(node: Tag, *, in_list: Tag | None = None) -> int:
    """Letters of ``node``'s text outside its links (with ``in_list``: not in lists nested in it)."""
    return sum(ch.isalpha() for t in node.find_all(string=True)
               if t.find_parent("a") is None and (in_list is None or t.find_parent("dl") is in_list) for ch in t)


def _terms(node: Tag) -> list[Tag]:
    return [item for item in _definition_items(node) if item.name == "dt"]


def _is_directory(node: Tag) -> bool:
    """A definition list whose terms link elsewhere (``DIRECTORY_SHARE`` of them)."""
    terms = _terms(node)
    linked = sum(any(a.get("href") and a.get_text(strip=True) for a in term.find_all("a")) for term in terms)
    return bool(terms) and linked >= DIRECTORY_SHARE * len(terms)


def _definition_lines(node: Tag, depth: int = 0) -> list[str]:
    """Terms and descriptions as ``term:`` and indented lines; a list nested in a description (an
    index's sub-entries) one level further in, once (it was also glued into its parent's line)."""
    lines: list[str] = []
    indent = "  " * depth
    for item in _definition_items(node):
        nested = item.find_all("dl", recursive=False) if item.name == "dd" else []
        for sub in nested:
            sub.extract()
        text = one_line(inline_text(item))
        if text:
            if item.name == "dt":  # a term that ends in its own colon or question mark keeps just that
                lines.append(f"{indent}{text}" if text.endswith((":", "?")) else f"{indent}{text}:")
            else:
                lines.append(f"{indent}  {text}")
        for sub in nested:
            lines.extend(_definition_lines(sub, depth + 1))
    return lines


_CELL_BLOCKS = ("p", "div")


def _cell_text(cell: Tag) -> str:
    """A cell's text; the items of a list in it joined by commas and its paragraphs by dashes, not
    glued into one run (a DocBook function table's cell is a signature, a description and an
    example, each a paragraph)."""
    items = cell.find_all("li")
    if items:
        separator, marked = ", ", items
    else:
        blocks = cell.find_all(_CELL_BLOCKS)
        if len(blocks) < 2:
            return one_line(inline_text(cell))
        separator, marked = " — ", blocks
    for item in marked:  # mark where each part ends (the table is read once, so marking it is harmless)
        item.append(NavigableString("\x00"))
    return separator.join(part for part in (one_line(p) for p in inline_text(cell).split("\x00")) if part)


# "Table 2: Distinguished Name Information", "Table 9.1. Comparison Operators": a numbered title.
_TABLE_TITLE = re.compile(r"^Table\s+[0-9][0-9.-]*[:.]\s", re.IGNORECASE)


def _names_next_table(title: Tag, text: str) -> bool:
    """A heading or paragraph that is a table's numbered title, right before it (the Apache manual
    writes an ``h4``, DocBook a ``p.title`` before ``div.table-contents``): it names the rows, not
    the paragraphs after the table, which stay in the section they were in."""
    if _TABLE_TITLE.match(text.strip()) is None:
        return False
    following = title.find_next_sibling(True)
    if following is None:
        return False
    if following.name == "table":
        return True
    first = following.find(_BLOCK_NAMES)  # a wrapper whose first block is the table
    return following.name in _CONTAINERS and isinstance(first, Tag) and first.name == "table"


def _caption(table: Tag) -> str | None:
    """A table's own ``<caption>``, which names its rows."""
    caption = table.find("caption", recursive=False)
    return (one_line(inline_text(caption)) or None) if isinstance(caption, Tag) else None


def _table_lines(node: Tag) -> list[str]:
    """One line per row, cells joined by " | "; a first row of header cells (``th``) over two or
    more columns is marked as a Markdown table marks it (``--- | ---``), so whoever reads a piece
    of the table (the chunker repeats the header in each) can name its columns."""
    lines: list[str] = []
    for row in node.find_all("tr"):
        tags = row.find_all(("th", "td"), recursive=False)
        cells = [_cell_text(cell) for cell in tags]
        if any(cells):
            header = not lines and len(cells) > 1 and all(tag.name == "th" for tag in tags)
            lines.append(table_row(cells))
            if header:
                lines.append(table_header_rule(len(cells)))
    return lines
