"""Document loaders: structure kept (titles, heading paths, code, lists, tables), bad files refused."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from assistant.errors import SourceError
from assistant.schemas import Document
from ingest.sources.config import SourceConfig
from ingest.sources.documents import file_fingerprint, list_document_files, load_document

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "docs"
MAX = 1_000_000


def source(path: Path, **options: object) -> SourceConfig:
    return SourceConfig.model_validate({"name": "kb", "type": "documents", "path": path, "audience": "public",
                                        **options})


def load(cfg: SourceConfig, key: str, *, max_bytes: int = MAX) -> Document:
    return load_document(cfg, key, Path(cfg.path) / key, max_bytes=max_bytes)


def html_blocks(tmp_path: Path, html: str) -> list[tuple[tuple[str, ...], str]]:
    """(section path, text) of each block of one HTML page, as the loader reads it."""
    (tmp_path / "page.html").write_text(html)
    return [(b.section, b.text) for b in load(source(tmp_path), "page.html").blocks]


def make_pdf(path: Path, *, title: str | None = "Ledgerly Payments Guide") -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    doc = SimpleDocTemplate(str(path), pagesize=A4, title=title or "")
    doc.build([
        Paragraph("Payments Guide", styles["Title"]),
        Paragraph("Card payments", styles["Heading1"]),
        Paragraph("Ledgerly accepts Visa, Mastercard and American Express on every plan. " * 3, styles["BodyText"]),
        Paragraph("Refund rules", styles["Heading2"]),
        Paragraph("Card refunds take 5 to 10 business days to reach the client.", styles["BodyText"]),
        PageBreak(),
        Paragraph("ACH transfers", styles["Heading1"]),
        Paragraph("ACH payments clear in three to five business days.", styles["BodyText"]),
    ])
    return path


def make_plain_pdf(path: Path) -> Path:
    """A PDF in one font size: no headings to find, so sections fall back to page numbers."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.setFont("Helvetica", 11)
    pdf.drawString(72, 750, "Payout schedule for Ledgerly accounts.")
    pdf.drawString(72, 735, "Payouts are sent every business day.")
    pdf.showPage()
    pdf.setFont("Helvetica", 11)
    pdf.drawString(72, 750, "Weekend payments are paid out on Monday.")
    pdf.save()
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph("Onboarding Runbook", style="Title")
    document.add_paragraph("Use this runbook for every new Enterprise account.")
    document.add_heading("Account setup", level=1)
    document.add_paragraph("Create the workspace in the admin console.")
    document.add_paragraph("Enable SSO", style="List Bullet")
    document.add_paragraph("Invite the billing owner", style="List Bullet")
    document.add_heading("SAML details", level=2)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Field"
    table.cell(0, 1).text = "Value"
    table.cell(1, 0).text = "ACS URL"
    table.cell(1, 1).text = "https://app.ledgerly.example/saml/acs"
    document.add_heading("Handover", level=1)
    document.add_paragraph("Book the kickoff call with the customer success manager.")
    document.save(str(path))
    return path


# --------------------------------------------------------------------------- listing


def test_listing_applies_globs_skips_hidden_and_unsupported_files_and_sorts() -> None:
    cfg = source(FIXTURES, exclude=["drafts/**"])
    keys = [key for key, _ in list_document_files(cfg)]
    assert keys == ["billing/late-fees.md", "billing/refunds.md", "empty.md", "getting_started.txt",
                    "integrations.html", "nav-only.html"]
    assert all(path.is_absolute() and path.exists() for _, path in list_document_files(cfg))


def test_listing_patterns_without_slash_match_file_names_at_any_depth() -> None:
    keys = [key for key, _ in list_document_files(source(FIXTURES, include=["*.md"], exclude=["empty.md"]))]
    assert keys == ["billing/late-fees.md", "billing/refunds.md", "drafts/unfinished.md"]
    keys = [key for key, _ in list_document_files(source(FIXTURES, include=["billing/*"]))]
    assert keys == ["billing/late-fees.md", "billing/refunds.md"]


# --------------------------------------------------------------------------- formats


def test_markdown_keeps_title_heading_path_code_lists_and_tables() -> None:
    doc = load(source(FIXTURES, url_base="https://help.ledgerly.example/"), "billing/refunds.md")
    assert doc.title == "Refunding a payment"  # the H1 wins over front matter
    assert doc.url == "https://help.ledgerly.example/billing/refunds.md"
    assert (doc.source, doc.key, doc.path, doc.audience) == ("kb", "billing/refunds.md", "billing/refunds.md",
                                                            "public")
    by_kind = {(b.section, b.kind): b.text for b in doc.blocks}
    assert by_kind[((), "text")].startswith("Refunds go back to the card")
    assert "**" not in by_kind[((), "text")]  # inline markup removed
    assert by_kind[(("Card payments",), "list")] == (
        "1. Open the invoice.\n2. Click Refund and enter the amount.\n  - Leave it empty for a full refund.\n"
        "3. Confirm.")
    # the header row is marked as Markdown marks it, so a reader of any chunk of the table can name columns
    assert by_kind[(("Card payments", "Timing"), "table")].splitlines()[1:3] == ["--- | --- | ---",
                                                                              "Card | 5–10 days | No"]
    assert by_kind[(("Using the API",), "code")].startswith("curl -X POST https://api.ledgerly.example/v1/refunds")
    assert any(b.text == "Refunds cannot be undone." for b in doc.blocks)  # raw HTML block as text
    assert doc.metadata["format"] == "markdown"


@pytest.mark.parametrize(("options", "url"), [
    ({"url_base": "https://help.ledgerly.example/", "strip_suffix": True}, "https://help.ledgerly.example/billing/refunds"),
    ({"url_template": "https://help.ledgerly.example/{path_no_suffix}/"}, "https://help.ledgerly.example/billing/refunds/"),
    ({"url_template": "https://help.ledgerly.example/articles/{stem}"}, "https://help.ledgerly.example/articles/refunds"),
    ({"url_template": "https://git.example/kb/blob/main/{path}?plain=1"},
     "https://git.example/kb/blob/main/billing/refunds.md?plain=1"),
])
def test_citation_links_can_land_on_the_live_page(options: dict[str, object], url: str) -> None:
    assert load(source(FIXTURES, **options), "billing/refunds.md").url == url


def test_link_settings_are_part_of_the_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("# A\n\ntext")
    plain = file_fingerprint(path, source(tmp_path, url_base="https://x.example/"))
    stripped = file_fingerprint(path, source(tmp_path, url_base="https://x.example/", strip_suffix=True))
    assert plain != stripped


def test_markdown_without_h1_takes_front_matter_title() -> None:
    doc = load(source(FIXTURES), "billing/late-fees.md")
    assert doc.title == "Late fees and interest"
    assert doc.url is None


def test_html_drops_page_chrome_and_keeps_sections() -> None:
    doc = load(source(FIXTURES), "integrations.html")
    assert doc.title == "Connecting QuickBooks Online"
    text = "\n".join(b.text for b in doc.blocks)
    for chrome in ("Pricing", "Getting started", "Related articles", "© 2024", "analytics", "trackPage"):
        assert chrome not in text
    sections = {b.section for b in doc.blocks}
    assert ("What syncs", "Sync errors") in sections
    lists = [b for b in doc.blocks if b.kind == "list"]
    assert lists[0].text == "- You need the Owner role.\n- QuickBooks plans:\n  - Simple Start\n  - Plus"
    assert any(b.kind == "table" and "Invoice | Invoice" in b.text for b in doc.blocks)
    assert any(b.kind == "code" and "Error 6240" in b.text for b in doc.blocks)


def test_html_title_falls_back_to_title_tag(tmp_path: Path) -> None:
    (tmp_path / "page.htm").write_text("<html><head><title>Tax settings</title></head>"
                                       "<body><p>Set tax rates per client.</p></body></html>")
    doc = load(source(tmp_path), "page.htm")
    assert doc.title == "Tax settings"
    assert [b.text for b in doc.blocks] == ["Set tax rates per client."]


def test_html_back_to_top_and_permalink_anchors_are_not_article_text(tmp_path: Path) -> None:
    """A manual's "top" arrows and heading permalinks would otherwise end sentences in answers
    ("… 2.4.10 and later. top") and section names ("Graceful Restart ¶")."""
    (tmp_path / "stopping.html").write_text(
        '<html><body><h1>Stopping</h1><h2 id="g">Graceful Restart <a href="#g" class="permalink">&para;</a></h2>'
        '<p>Send USR1 to restart without dropping connections. See <a href="#stop">Stop Now</a>.</p>'
        '<div class="top"><a href="#page-header"><img alt="top" src="up.gif"></a></div>'
        '<p><a href="#page-header">Back to top</a></p></body></html>')
    doc = load(source(tmp_path), "stopping.html")
    assert [(b.section, b.text) for b in doc.blocks] == [
        (("Graceful Restart",), "Send USR1 to restart without dropping connections. See Stop Now.")]


def test_html_site_furniture_without_nav_markup_is_dropped(tmp_path: Path) -> None:
    """Breadcrumbs, link bars and arrow links in plain divs (a real manual's header) would open the
    first chunk of every page; a sentence that links two pages stays."""
    (tmp_path / "page.html").write_text(
        '<html><body><div id="page-header"><p class="menu"><a href="/m">Modules</a> | <a href="/d">Directives</a>'
        ' | <a href="/f">FAQ</a></p><p>Apache HTTP Server Version 2.4</p></div>'
        '<div class="up"><a href="/"><img alt="<-" src="left.gif"></a></div>'
        '<div id="path"><a href="/">Apache</a> &gt; <a href="/s">HTTP Server</a> &gt; <a href="/d">Docs</a></div>'
        '<div id="content"><h1>Stopping</h1>'
        '<div class="toplang"><p><span>Available Languages: </span>'
        '<a href="/de">de</a> | <a href="/en">en</a></p></div>'
        '<p>Use <a href="/a">apachectl</a> or <a href="/k">kill</a> to send the signal.</p></div></body></html>')
    doc = load(source(tmp_path), "page.html")
    assert doc.title == "Stopping"
    assert [b.text for b in doc.blocks] == ["Use apachectl or kill to send the signal."]


def test_html_footer_div_is_not_article_text(tmp_path: Path) -> None:
    """A real manual's footer is a plain ``div id="footer"``, not ``<footer>``: left in, its
    copyright line ended the last chunk of all 234 pages and was quoted in answers."""
    assert html_blocks(tmp_path,
                       '<html><body><div id="page-content"><h1>Caching</h1><p>mod_cache keeps responses.</p></div>'
                       '<div id="footer"><p class="apache">Copyright 2026 The Apache Software Foundation.<br>'
                       'Licensed under the <a href="/l">Apache License, Version 2.0</a>.</p></div>'
                       '<div class="site-footer"><p>Imprint</p></div></body></html>') == [
        ((), "mod_cache keeps responses.")]


def test_html_in_page_table_of_contents_is_not_article_text(tmp_path: Path) -> None:
    """A list whose every item only links into the page itself (a module's "Directives" list,
    a "Topics" list, "On this page") names sections without saying anything: as chunks it matched
    every directive name by keyword and its items were quoted as answer sentences. A list that
    links to other pages, or that says something beside its in-page links, stays."""
    blocks = html_blocks(
        tmp_path,
        '<html><body><h1>Core</h1>'
        '<div id="quickview"><h3>Topics</h3><ul id="topics"><li><a href="#examples">Examples</a></li></ul>'
        '<h3>Directives</h3><ul id="toc">'
        '<li><img alt="" src="down.gif"> <a href="#acceptfilter">AcceptFilter</a></li>'
        '<li><img alt="" src="down.gif"> <a href="#alias">Alias</a>'
        '<ul><li><a href="#alias-examples">Examples</a></li></ul></li></ul>'
        '<h3>See also</h3><ul class="seealso"><li><a href="other.html">Other page</a></li>'
        '<li><a href="more.html">More</a></li></ul></div>'
        '<h2>Alias</h2><ul><li>Use <a href="#acceptfilter">AcceptFilter</a> first.</li>'
        '<li>Then restart.</li></ul></body></html>')
    assert blocks == [
        (("See also",), "- Other page\n- More"),
        (("Alias",), "- Use AcceptFilter first.\n- Then restart."),
    ]


def test_html_table_cell_list_items_stay_apart(tmp_path: Path) -> None:
    """Items of a list inside a table cell were glued together ("DocumentRootServerAliasServerName")."""
    blocks = html_blocks(
        tmp_path,
        '<html><body><h1>Hosts</h1><table><tr><th>Related Modules</th><th>Related Directives</th></tr>'
        '<tr><td><ul><li><code>core</code></li></ul></td><td><ul><li><code>DocumentRoot</code></li>'
        '<li><code>ServerAlias</code></li><li><code>&lt;VirtualHost&gt;</code></li></ul></td></tr>'
        '</table></body></html>')
    assert blocks[0][1] == ("Related Modules | Related Directives\n--- | ---\n"
                                  "core | DocumentRoot, ServerAlias, <VirtualHost>")


def test_html_paragraphs_inside_one_table_cell_stay_apart(tmp_path: Path) -> None:
    """A DocBook function table is one column whose cells hold a signature, a description and an
    example as paragraphs: glued into one line they read "age ( timestamp ) → interval Subtract
    argument from current_date age(timestamp '1957-06-13') → 62 years"."""
    blocks = html_blocks(
        tmp_path,
        '<html><body><h1>Date functions</h1><table><thead><tr><th><p>Function</p><p>Description</p>'
        '<p>Example(s)</p></th></tr></thead><tbody><tr><td><p><code>age</code> ( <code>timestamp</code> )\n'
        '  → <code>interval</code></p>\n<p>Subtract argument from <code>current_date</code></p>'
        "<p><code>age(timestamp '1957-06-13')</code> → <code>62 years</code></p></td></tr></tbody>"
        '</table></body></html>')
    assert blocks[0][1] == ("Function — Description — Example(s)\n"
                            "age ( timestamp ) → interval — Subtract argument from current_date — "
                            "age(timestamp '1957-06-13') → 62 years")


def test_html_table_caption_names_the_tables_rows_and_only_them(tmp_path: Path) -> None:
    """The Apache manual titles a table with a heading ("<h4>Table 2: Distinguished Name
    Information</h4>"): as a section it held every paragraph after the table too, and answers
    labelled prose about certificate chains "Table 4: Versions of the SSL protocol". A ``<caption>``
    was dropped altogether."""
    blocks = html_blocks(
        tmp_path,
        '<html><body><h1>SSL</h1><h2>Certificates</h2><p>Names are defined by X.509.</p>'
        '<h4 id="table2">Table 2: Distinguished Name Information</h4>'
        '<table><tr><th>Field</th><th>Abbrev.</th></tr><tr><td>Common Name</td><td>CN</td></tr></table>'
        '<p>A CA may define a policy.</p>'
        '<table><caption>Protocol versions</caption><tr><td>TLS 1.3</td><td>2018</td></tr></table>'
        '<p>Chains are loaded too.</p><h3>Tables of contents</h3><p>Not a caption.</p></body></html>')
    certificates = ("Certificates",)
    assert blocks == [
        (certificates, "Names are defined by X.509."),
        ((*certificates, "Table 2: Distinguished Name Information"), "Field | Abbrev.\n--- | ---\nCommon Name | CN"),
        (certificates, "A CA may define a policy."),
        ((*certificates, "Protocol versions"), "TLS 1.3 | 2018"),
        (certificates, "Chains are loaded too."),
        ((*certificates, "Tables of contents"), "Not a caption."),
    ]


def test_html_docbook_table_title_names_every_piece_of_its_table(tmp_path: Path) -> None:
    """DocBook (PostgreSQL's manual) titles a table with ``<p class="title">`` in a ``div.table``:
    read as a paragraph, only the first piece of a long table said which table it was."""
    blocks = html_blocks(
        tmp_path,
        '<html><body><h1>Functions</h1><h2>9.2. Comparison Functions and Operators</h2>'
        '<div class="table" id="T1"><p class="title"><strong>Table 9.1. Comparison Operators</strong></p>'
        '<div class="table-contents"><table><thead><tr><th>Operator</th><th>Description</th></tr></thead>'
        '<tbody><tr><td>&lt;</td><td>Less than</td></tr></tbody></table></div></div>'
        '<p class="title">A paragraph styled as a title is still text.</p></body></html>')
    section = ("9.2. Comparison Functions and Operators",)
    assert blocks == [
        ((*section, "Table 9.1. Comparison Operators"), "Operator | Description\n--- | ---\n< | Less than"),
        (section, "A paragraph styled as a title is still text."),
    ]


def test_html_list_item_with_a_code_block_keeps_the_code_as_code(tmp_path: Path) -> None:
    """A step that shows commands (``<li><p>Stop both servers:</p><pre>…</pre></li>``, DocBook and
    Sphinx write them so) lost the block's line breaks and fence: two commands were quoted as one
    line, "pg_ctl -D /old stop pg_ctl -D /new stop", which nobody can paste."""
    blocks = html_blocks(
        tmp_path,
        '<html><body><h1>Upgrade</h1><p>These are the steps:</p><ol><li><p>Stop both servers:</p>'
        '<pre class="programlisting">\npg_ctl -D /old stop\npg_ctl -D /new stop\n</pre>'
        '<p>Standby servers must be running.</p></li><li><p>Run pg_upgrade.</p></li></ol></body></html>')
    assert blocks == [
        ((), "These are the steps:"),
        ((), "1. Stop both servers:"),
        ((), "pg_ctl -D /old stop\npg_ctl -D /new stop"),
        ((), "Standby servers must be running."),
        ((), "2. Run pg_upgrade."),
    ]


def test_html_sphinx_step_with_a_highlighted_code_block_keeps_its_number_and_its_code(tmp_path: Path) -> None:
    """Sphinx puts a step's code in ``<div class="highlight"><pre>``: the step's sentence keeps its
    number, the command stays a code block, and the next one-paragraph step is still numbered."""
    blocks = html_blocks(
        tmp_path,
        '<html><body><h1>Install</h1><ol><li><p>Install the package:</p><div class="highlight"><pre>'
        'pip install assistant\nassistant --version</pre></div></li><li><p>Run <code>assistant serve</code>.</p>'
        '</li></ol></body></html>')
    assert blocks == [
        ((), "1. Install the package:"),
        ((), "pip install assistant\nassistant --version"),
        ((), "2. Run assistant serve."),
    ]


def test_html_docbook_step_title_leads_its_text_instead_of_running_into_it(tmp_path: Path) -> None:
    """DocBook procedures title each step (``<p class="title"><strong>Optionally move the old
    cluster</strong></p><p>If you are using …</p>``): read as one line, the title ran into the text
    ("Optionally move the old cluster If you are using …") and every paragraph of every step was one
    item. The title labels its step's first paragraph; the step's other paragraphs stay paragraphs."""
    blocks = html_blocks(
        tmp_path,
        '<html><body><h1>pg_upgrade</h1><div class="procedure"><ol class="procedure" type="1">'
        '<li class="step"><p class="title"><strong>Optionally move the old cluster</strong></p>'
        '<p>If you are using a version-specific directory, you do not need to move it.</p>'
        '<p>Otherwise rename it.</p></li>'
        '<li class="step"><p class="title"><strong>Install the new binaries</strong></p>'
        '<p>Install the new server.</p></li></ol></div></body></html>')
    assert blocks == [
        ((), "1. Optionally move the old cluster: If you are using a version-specific directory, "
             "you do not need to move it."),
        ((), "Otherwise rename it."),
        ((), "2. Install the new binaries: Install the new server."),
    ]


def test_html_list_of_one_paragraph_items_is_still_one_list(tmp_path: Path) -> None:
    """Sphinx wraps every item in a paragraph (``<li><p>Go to Settings.</p></li>``): that is a plain
    list, read as one block of numbered lines, so a procedure stays whole."""
    blocks = html_blocks(tmp_path, '<html><body><h1>2FA</h1><ol><li><p>Go to <b>Settings</b>.</p></li>'
                                   '<li><p>Click <em>Enable</em>.</p></li></ol></body></html>')
    assert blocks == [((), "1. Go to Settings.\n2. Click Enable.")]


def test_html_table_without_a_header_row_gets_no_header_mark(tmp_path: Path) -> None:
    blocks = html_blocks(tmp_path, '<html><body><h1>Core</h1><table><tr><td>Module:</td><td>core</td></tr>'
                                   '<tr><td>Status:</td><td>Core</td></tr></table></body></html>')
    assert blocks[0][1] == "Module: | core\nStatus: | Core"


def test_html_table_cell_pipes_are_escaped_so_columns_stay_columns(tmp_path: Path) -> None:
    """Cells are joined with " | "; a pipe of the cell's own ("On|Off") is written as a Markdown
    table writes it ("On\\|Off") so that readers of the block do not take it for a column."""
    assert html_blocks(tmp_path, '<html><body><h1>Core</h1><table><tr><th>Syntax:</th>'
                                 '<td><code>AllowEncodedSlashes On|Off</code></td></tr></table></body></html>') == [
        ((), "Syntax: | AllowEncodedSlashes On\\|Off")]


def test_html_definition_term_that_ends_in_a_colon_gets_no_second_one(tmp_path: Path) -> None:
    """A manual's recipes are ``<dt>Description:</dt><dd>...</dd>``: read as "Description::" in answers."""
    assert html_blocks(tmp_path, '<html><body><h1>Recipes</h1><dl><dt>Description:</dt><dd>Force one hostname.</dd>'
                                 '<dt>Solution</dt><dd>Use a redirect.</dd><dt>Why?</dt><dd>Cookies.</dd></dl>'
                                 '</body></html>')[0][1] == (
        "Description:\n  Force one hostname.\nSolution:\n  Use a redirect.\nWhy?\n  Cookies.")


# A page as DocBook's XSL stylesheets write it (PostgreSQL's manual, FreeBSD's handbook, GNOME's and
# many others): navigation tables naming the neighbouring pages, a table of contents of links, admonitions
# with their own heading, options as a definition list whose descriptions are paragraphs and code.
DOCBOOK_PAGE = (
    '<html><head><title>20.4. Resource Consumption</title></head><body>'
    '<div class="navheader"><table summary="Navigation header"><tr><th colspan="5">20.4. Resource Consumption</th>'
    '</tr><tr><td><a accesskey="p" href="connection.html">Prev</a></td><td><a href="config.html">Up</a></td>'
    '<th>Chapter 20. Server Configuration</th><td><a href="index.html">Home</a></td>'
    '<td><a href="wal.html">Next</a></td></tr></table><hr/></div>'
    '<div class="sect1"><div class="titlepage"><h2 class="title">20.4. Resource Consumption</h2></div>'
    '<div class="toc"><p><strong>Table of Contents</strong></p><dl class="toc">'
    '<dt><span class="sect2"><a href="resource.html#MEMORY">20.4.1. Memory</a></span></dt>'
    '<dt><span class="sect2"><a href="resource.html#DISK">20.4.2. Disk</a></span></dt></dl></div>'
    '<div class="sect2" id="MEMORY"><h3 class="title">20.4.1. Memory</h3>'
    '<p>These settings control\n   how much memory the server uses.</p>'
    '<div class="note"><h3 class="title">Note</h3><p>Restart the server after a change.</p></div>'
    '<div class="variablelist"><dl class="variablelist">'
    '<dt id="GUC-SHARED-BUFFERS"><span class="term"><code>shared_buffers</code> (<code>integer</code>)</span></dt>'
    '<dd><p>Sets the amount of memory\n  for shared buffers.</p><p>The default is 128MB, but might be less if '
    'your kernel settings will not support it.</p>'
    '<pre class="programlisting">shared_buffers = 1GB\nwork_mem = 64MB</pre></dd>'
    '<dt><span class="term"><code>work_mem</code></span></dt><dd><p>Sets the base maximum amount of memory to be '
    'used by a query operation (such as a sort or hash table) before writing to temporary disk files.</p></dd>'
    '</dl></div><p>Memory settings end here.</p></div></div>'
    '<div class="navfooter"><hr/><table summary="Navigation footer"><tr><td><a href="connection.html">Prev</a></td>'
    '<td><a href="config.html">Up</a></td><td><a href="wal.html">Next</a></td></tr>'
    '<tr><td>20.3. Connections and Authentication</td><td><a href="index.html">Home</a></td>'
    '<td>20.5. Write Ahead Log</td></tr></table></div></body></html>')


def test_html_docbook_navigation_tables_are_not_article_text(tmp_path: Path) -> None:
    """Every DocBook page opens and ends with a table naming its neighbours ("Prev | Up | Next",
    "20.3. Connections and Authentication | Home | 20.5. Write Ahead Log"): left in, a page matched
    questions about the pages beside it."""
    text = "\n".join(t for _, t in html_blocks(tmp_path, DOCBOOK_PAGE))
    assert "Prev" not in text and "Write Ahead Log" not in text and "Chapter 20" not in text


def test_html_table_of_contents_of_links_is_not_article_text(tmp_path: Path) -> None:
    """A ``toc`` element that is only links (DocBook's ``div.toc``, also when its links name the
    page's own file) says nothing of its own; a page that is nothing but one keeps it, so it still
    has text to index."""
    text = "\n".join(t for _, t in html_blocks(tmp_path, DOCBOOK_PAGE))
    assert "Table of Contents" not in text and "20.4.2. Disk" not in text
    hub = html_blocks(tmp_path, '<html><body><h1>Part III</h1><div class="toc"><dl class="toc">'
                                '<dt><a href="install.html">16. Installation</a></dt></dl></div></body></html>')
    assert hub == [((), "16. Installation:")]
    assert load(source(tmp_path), "page.html").metadata["navigation_only"] is True


def test_html_page_that_only_lists_other_pages_is_marked_navigation(tmp_path: Path) -> None:
    """A book's index (one definition list per letter, every term a link, sub-entries nested): the
    PostgreSQL manual's came up among the first five pages for 19 of 150 of its own headings. On a
    page with words of its own such lists are dropped; a page of nothing else is marked, and ingest
    skips it. A list whose descriptions say something (a module list) is content."""
    entries = "".join(f'<dt>term{i}, <a href="p{i}.html">Page {i}</a></dt>' for i in range(18))
    index = ('<html><body><h1>Index</h1><div class="index"><h3>A</h3><dl>' + entries + '</dl><h3>B</h3><dl>'
             '<dt>backup, <a href="b.html">Backup</a></dt><dd><dl><dt>incremental, <a href="i.html">Incremental</a>'
             '</dt></dl></dd><dt>btree, <a href="t.html">B-Tree</a></dt></dl></div></body></html>')
    (tmp_path / "page.html").write_text(index)
    assert load(source(tmp_path), "page.html").metadata["navigation_only"] is True
    (tmp_path / "page.html").write_text(index.replace("<h1>Index</h1>", "<h1>Index</h1><p>Terms by letter.</p>"))
    assert [t for _, t in html_blocks(tmp_path, (tmp_path / "page.html").read_text())] == ["Terms by letter."]
    modules = "".join(f'<dt><a href="m{i}.html">mod_{i}</a></dt><dd>Serves files of kind {i} to clients.</dd>'
                      for i in range(25))
    blocks = html_blocks(tmp_path, f"<html><body><h1>Modules</h1><p>All modules.</p><dl>{modules}</dl></body></html>")
    assert blocks[1][1].startswith("mod_0:\n  Serves files of kind 0 to clients.")
    assert "navigation_only" not in load(source(tmp_path), "page.html").metadata


def test_html_admonition_heading_labels_its_text_instead_of_opening_a_section(tmp_path: Path) -> None:
    """DocBook writes a note as ``<div class="note"><h3>Note</h3>``: as a heading it replaced the
    section it sits in, so everything after the note was filed under "Note"."""
    blocks = html_blocks(tmp_path, DOCBOOK_PAGE)
    memory = ("20.4.1. Memory",)
    assert (memory, "Note: Restart the server after a change.") in blocks
    assert blocks[-1] == (memory, "Memory settings end here.")


def test_html_line_breaks_in_the_source_are_spaces(tmp_path: Path) -> None:
    """HTML source lines are not line breaks (only ``<br>`` and ``<pre>`` are): kept, they split
    sentences in two wherever the page's author wrapped a line."""
    assert html_blocks(tmp_path, DOCBOOK_PAGE)[0][1] == "These settings control how much memory the server uses."
    assert html_blocks(tmp_path, '<html><body><h1>T</h1><p>one\n two<br>three</p></body></html>') == [
        ((), "one two\nthree")]


def test_html_title_heading_below_h1_is_the_title_not_a_section(tmp_path: Path) -> None:
    """Without an ``h1``, a page's first heading that repeats its ``<title>`` (DocBook titles a
    section's page with ``h2``) is the title: as a section it was written twice into every chunk's
    context, once as the title and once at the head of the section path."""
    blocks = html_blocks(tmp_path, DOCBOOK_PAGE)
    assert blocks[0][0] == ("20.4.1. Memory",)
    assert load(source(tmp_path), "page.html").title == "20.4. Resource Consumption"


def test_html_definition_with_paragraphs_is_a_subsection_of_its_own(tmp_path: Path) -> None:
    """A definition list whose descriptions hold paragraphs or code (a manual's settings, a command's
    options) was flattened into one line per item, code included, and a whole page of settings was one
    section. Each term now heads its description; a list of one-line definitions stays a list."""
    blocks = html_blocks(tmp_path, DOCBOOK_PAGE)
    setting = ("20.4.1. Memory", "shared_buffers (integer)")
    assert [b for b in blocks if b[0] == setting] == [
        (setting, "Sets the amount of memory for shared buffers."),
        (setting, "The default is 128MB, but might be less if your kernel settings will not support it."),
        (setting, "shared_buffers = 1GB\nwork_mem = 64MB"),
    ]
    assert (("20.4.1. Memory", "work_mem"), "Sets the base maximum amount of memory to be used by a query operation"
            " (such as a sort or hash table) before writing to temporary disk files.") in blocks
    # Arguments described in a few words each stay a list: as subsections they were two-line chunks.
    short = html_blocks(tmp_path, '<html><body><h1>SPI_connect</h1><h2>Arguments</h2><dl><dt>plan</dt>'
                                  '<dd><p>execution plan</p></dd><dt>nargs</dt><dd><p>number of arguments</p></dd>'
                                  '</dl></body></html>')
    assert short == [(("Arguments",), "plan:\n  execution plan\nnargs:\n  number of arguments")]
    # A book's index (terms with links, sub-entries nested) is a directory, not 300 subsections.
    index = html_blocks(tmp_path, '<html><body><h1>Index</h1><dl><dt>foreign key, <a href="fk.html">Foreign Keys</a>'
                                  '</dt><dd><dl><dt>self-referential, <a href="fk.html#self">Foreign Keys</a></dt></dl>'
                                  '</dd><dt>fsync, <a href="wal.html">WAL</a></dt></dl></body></html>')
    assert index == [((), "foreign key, Foreign Keys:\n  self-referential, Foreign Keys:\nfsync, WAL:")]


def test_text_file_title_comes_from_the_file_name() -> None:
    doc = load(source(FIXTURES), "getting_started.txt")
    assert doc.title == "Getting started"
    assert [b.text.split()[0] for b in doc.blocks] == ["Welcome", "Create", "Need"]


def test_pdf_title_from_metadata_and_sections_from_font_sizes(tmp_path: Path) -> None:
    make_pdf(tmp_path / "guide.pdf")
    doc = load(source(tmp_path), "guide.pdf")
    assert doc.title == "Ledgerly Payments Guide"
    assert doc.metadata["pages"] == 2
    sections = [b.section for b in doc.blocks]
    assert sections == [("Card payments",), ("Card payments", "Refund rules"), ("ACH transfers",)]
    assert doc.blocks[1].text == "Card refunds take 5 to 10 business days to reach the client."


def test_a_pdf_table_keeps_its_rows_and_cells(tmp_path: Path) -> None:
    """pypdf reads each cell as a line of its own; glued into the paragraph they read "Card Fee Payout
    Visa 2.9% + $0.30 2 days Amex …", and no answer could say which fee is whose."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

    styles = getSampleStyleSheet()
    SimpleDocTemplate(str(tmp_path / "fees.pdf"), pagesize=A4, title="Fees").build([
        Paragraph("Card fees", styles["Heading1"]),
        Paragraph("Each card network has its own fee and payout time.", styles["BodyText"]),
        Table([["Card", "Fee", "Payout"], ["Visa", "2.9% + $0.30", "2 days"], ["Amex", "3.5%", "3 days"]]),
        Paragraph("Fees are taken before the payout is sent.", styles["BodyText"]),
    ])
    doc = load(source(tmp_path), "fees.pdf")
    assert [(b.kind, b.section) for b in doc.blocks] == [
        ("text", ("Card fees",)), ("table", ("Card fees",)), ("text", ("Card fees",))]
    assert doc.blocks[1].text.splitlines() == [
        "Card | Fee | Payout", "--- | --- | ---", "Visa | 2.9% + $0.30 | 2 days", "Amex | 3.5% | 3 days"]
    assert doc.blocks[0].text == "Each card network has its own fee and payout time."
    assert doc.blocks[2].text == "Fees are taken before the payout is sent."
    make_pdf(tmp_path / "guide.pdf")  # prose only: no table found in it
    assert {b.kind for b in load(source(tmp_path), "guide.pdf").blocks} == {"text"}


def test_a_text_files_aligned_columns_are_read_as_a_table(tmp_path: Path) -> None:
    """A plain-text list of shortcuts lined up in columns was normalised into one line, "Create N then I New
    invoice N then E New estimate", and no answer could say which keys make which."""
    (tmp_path / "shortcuts.txt").write_text(
        "Keyboard shortcuts\n==================\n\nCreate\n  N then I    New invoice\n  N then E    New estimate\n\n"
        "Lists\n  J / K       Next / previous row\n  /           Search\n\n"
        "Prose that puts two spaces after a full stop.  It does not line up\n"
        "its sentences in columns.  So it stays prose.\n")
    doc = load(source(tmp_path), "shortcuts.txt")
    assert doc.title == "Keyboard shortcuts"
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("text", "Create"),
        ("table", "N then I | New invoice\nN then E | New estimate"),
        ("text", "Lists"), ("table", "J / K | Next / previous row\n/ | Search"),
        ("text", "Prose that puts two spaces after a full stop. It does not line up\n"
                 "its sentences in columns. So it stays prose.")]


def test_a_text_files_underlined_lines_are_its_title_and_section_headings(tmp_path: Path) -> None:
    """The underlined first line was read as the page's first sentence and quoted in answers ("Keyboard
    shortcuts in the Ledgerly web app [1]"), while the title came from the file name."""
    (tmp_path / "shortcuts.txt").write_text(
        "Keyboard shortcuts in the web app\n=================================\n\nPress ? to show this list.\n\n"
        "Turning them off\n----------------\nUse Settings > Profile.\n\n-----\n\nStill under it.\n"
        "A closing line\n--------------------------------------------------------------------------\n")
    doc = load(source(tmp_path), "shortcuts.txt")
    assert doc.title == "Keyboard shortcuts in the web app"
    assert [(b.section, b.text) for b in doc.blocks] == [
        ((), "Press ? to show this list."), (("Turning them off",), "Use Settings > Profile."),
        (("Turning them off",), "Still under it.\nA closing line")]
    (tmp_path / "plain.txt").write_text("No heading here.\n\nSecond paragraph.\n")
    plain = load(source(tmp_path), "plain.txt")
    assert plain.title == "Plain" and [b.section for b in plain.blocks] == [(), ()]


def test_pdf_without_metadata_title_uses_its_first_line(tmp_path: Path) -> None:
    make_pdf(tmp_path / "guide.pdf", title=None)
    assert load(source(tmp_path), "guide.pdf").title == "Payments Guide"


def test_pdf_without_headings_gets_page_sections(tmp_path: Path) -> None:
    make_plain_pdf(tmp_path / "payouts.pdf")
    doc = load(source(tmp_path), "payouts.pdf")
    assert doc.title == "Payout schedule for Ledgerly accounts."
    assert [b.section for b in doc.blocks] == [("Page 1",), ("Page 2",)]
    assert "Weekend payments" in doc.blocks[1].text


def test_docx_title_style_heading_sections_lists_and_tables(tmp_path: Path) -> None:
    make_docx(tmp_path / "runbook.docx")
    doc = load(source(tmp_path), "runbook.docx")
    assert doc.title == "Onboarding Runbook"
    assert [(b.section, b.kind) for b in doc.blocks] == [
        ((), "text"),
        (("Account setup",), "text"),
        (("Account setup",), "list"),
        (("Account setup", "SAML details"), "table"),
        (("Handover",), "text"),
    ]
    assert doc.blocks[2].text == "- Enable SSO\n- Invite the billing owner"
    assert doc.blocks[3].text == "Field | Value\nACS URL | https://app.ledgerly.example/saml/acs"


# --------------------------------------------------------------------------- bad input


def reason(cfg: SourceConfig, key: str, *, max_bytes: int = MAX) -> str:
    with pytest.raises(SourceError) as info:
        load(cfg, key, max_bytes=max_bytes)
    assert info.value.path == str(Path(cfg.path) / key)
    return str(info.value)


def test_truncated_pdf_is_refused_with_a_reason(tmp_path: Path) -> None:
    good = make_pdf(tmp_path / "good.pdf").read_bytes()
    (tmp_path / "broken.pdf").write_bytes(good[: len(good) // 2])
    assert reason(source(tmp_path), "broken.pdf").startswith("not a readable PDF")


def test_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(make_pdf(tmp_path / "plain.pdf")).pages:
        writer.add_page(page)
    writer.encrypt(user_password="s3cret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    (tmp_path / "locked.pdf").write_bytes(buffer.getvalue())
    assert "encrypted with a password" in reason(source(tmp_path), "locked.pdf")


def test_pdf_without_text_layer_is_refused(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    with (tmp_path / "scan.pdf").open("wb") as fh:
        writer.write(fh)
    assert "no extractable text" in reason(source(tmp_path), "scan.pdf")


def test_corrupt_docx_is_refused(tmp_path: Path) -> None:
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 definitely not a zip archive")
    assert reason(source(tmp_path), "broken.docx").startswith("not a readable DOCX file")


def test_undecodable_text_is_refused_not_read_as_latin1(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_bytes("# Café menu\n\nCrème brûlée".encode("cp1252"))
    message = reason(source(tmp_path), "notes.md")
    assert "not valid UTF-8" in message and "encoding:" in message


def test_configured_encoding_reads_legacy_files(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_bytes("# Café menu\n\nCrème brûlée".encode("cp1252"))
    doc = load(source(tmp_path, encoding="cp1252"), "notes.md")
    assert doc.title == "Café menu"
    assert doc.blocks[0].text == "Crème brûlée"


def test_utf8_bom_and_utf16_text_are_read(tmp_path: Path) -> None:
    (tmp_path / "bom.txt").write_bytes("\ufeffInvoices are numbered.".encode())
    (tmp_path / "wide.txt").write_bytes("Invoices are numbered.".encode("utf-16"))
    assert load(source(tmp_path), "bom.txt").blocks[0].text == "Invoices are numbered."
    assert load(source(tmp_path), "wide.txt").blocks[0].text == "Invoices are numbered."


def test_empty_file_and_file_without_text_are_refused() -> None:
    assert reason(source(FIXTURES), "empty.md") == "the file is empty"
    assert reason(source(FIXTURES), "nav-only.html").startswith("no text after parsing")


def test_file_over_max_bytes_is_refused_before_reading(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "billing" / "refunds.md", tmp_path / "big.md")
    message = reason(source(tmp_path), "big.md", max_bytes=100)
    assert "over the 100 bytes limit" in message


# --------------------------------------------------------------------------- fingerprints


def test_fingerprint_is_stable_and_changes_with_bytes_or_output_options(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("# A\n\nOne.")
    cfg = source(tmp_path)
    first = file_fingerprint(path, cfg)
    assert first == file_fingerprint(path, cfg)
    assert load(cfg, "a.md").fingerprint == first
    assert file_fingerprint(path, source(tmp_path, url_base="https://x.example/")) != first
    path.write_text("# A\n\nTwo.")
    assert file_fingerprint(path, cfg) != first


def test_html_heading_text_has_no_space_before_punctuation_between_its_elements(tmp_path: Path) -> None:
    """A heading of code names ("<code>GROUPING SETS</code>, <code>CUBE</code>") read "GROUPING SETS ,
    CUBE ," in every chunk's section path; numbers in a span of their own still get their space."""
    blocks = html_blocks(
        tmp_path,
        '<html><body><h1>Queries</h1><h2><span class="number">7.2.4.</span><code>GROUPING SETS</code>, '
        '<code>CUBE</code>, and <code>ROLLUP</code> (<em>grouping</em>)</h2><p>Complex grouping.</p></body></html>')
    assert blocks[0][0] == ("7.2.4. GROUPING SETS, CUBE, and ROLLUP (grouping)",)
