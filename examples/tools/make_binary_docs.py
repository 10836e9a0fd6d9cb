"""Build the PDF and DOCX articles of the example help center.

The binary formats are generated rather than hand-made so that their text stays reviewable here and the
files are byte-for-byte reproducible: ingestion tests fingerprint documents, and a regenerated file that
differed only in a timestamp would look like an edit. The generated files are committed; tests never need
to run this script.

Usage:  python examples/tools/make_binary_docs.py [--out DIR]
DIR defaults to examples/docs/public.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import zipfile
from pathlib import Path

PUBLIC_DIR = Path(__file__).resolve().parent.parent / "docs" / "public"
PDF_PATH = Path("getting-started/getting-started-guide.pdf")
DOCX_PATH = Path("account/data-processing-and-security.docx")
FIXED_DATE = dt.datetime(2026, 1, 15, 9, 0, 0)

# (kind, text) blocks. kind: h1 | h2 | p | bullets | table | pagebreak
Block = tuple[str, object]

GUIDE: list[Block] = [
    ("h1", "Getting started with Ledgerly"),
    (
        "p",
        "This guide takes you from a new account to your first paid invoice in about 20 minutes. "
        "Each step links to the help center article with the details: https://help.ledgerly.example/.",
    ),
    ("h2", "1. Start your free trial"),
    (
        "p",
        "Sign up at https://app.ledgerly.example/signup with your work email. Every new account gets a "
        "14-day free trial with all Pro features, and no card is needed. Confirm your email address within "
        "48 hours of signing up; unconfirmed accounts can't send invoices.",
    ),
    (
        "p",
        "New accounts contain sample data so you can look around: a sample client called "
        '"Acme Sample Co." and two sample invoices. Sample invoices are never emailed. Remove all sample '
        "data in one click under Settings > Account > Remove sample data.",
    ),
    ("h2", "2. Set up your company profile"),
    (
        "p",
        "Open Settings > Company and enter your business name, address, tax ID, time zone and base "
        "currency. Check the base currency carefully: it can only be changed until you send your first "
        "invoice.",
    ),
    (
        "bullets",
        [
            "Upload your logo under Settings > Invoice design (PNG, JPG or SVG, up to 2 MB).",
            "Choose default payment terms; Net 30 is the default.",
            "Set the language for invoice PDFs and client emails.",
        ],
    ),
    ("h2", "3. Turn on online payments"),
    (
        "p",
        "Clients pay faster when the invoice has a Pay now button. Go to Settings > Payments > Ledgerly "
        "Payments and click Set up payments. You'll need your business details, the owner's date of "
        "birth and address, and the bank account for payouts. Verification usually takes 1-2 business "
        "days. Your first payout arrives 7 days after your first successful payment; after that, payouts "
        "are daily by default.",
    ),
    (
        "p",
        "Already using Stripe or PayPal? Connect them under Settings > Integrations > Payment gateways "
        "instead of, or next to, Ledgerly Payments.",
    ),
    ("h2", "4. Add your clients"),
    (
        "p",
        "Add clients one at a time under Clients > New client, or import a CSV file of up to 5,000 rows "
        "under Clients > Import. If you use QuickBooks Online or Xero, you can import your customers from "
        "there when you connect the integration.",
    ),
    ("pagebreak", None),
    ("h2", "5. Create and send your first invoice"),
    (
        "bullets",
        [
            "Go to Invoices > New invoice and choose a client.",
            "Add line items with quantity, price and tax.",
            "Click Review and send, check the preview, and click Send.",
            "Follow the invoice in Activity: Sent, Viewed, Paid.",
        ],
    ),
    (
        "p",
        "Want to try it first? Send the invoice to yourself: the email and the payment page look exactly "
        "like what your client will see. In test mode no money moves.",
    ),
    ("h2", "6. Let Ledgerly chase late payments"),
    (
        "p",
        "Turn on automatic reminders under Settings > Reminders. The default schedule sends a reminder "
        "3 days before the due date, on the due date and 7 days after it. For repeat work, create a "
        "recurring profile under Invoices > Recurring so invoices are created and sent for you.",
    ),
    ("h2", "7. Invite your team"),
    (
        "p",
        "Invite colleagues under Settings > Team and give each a role: Admin, Accountant, Staff or "
        "Viewer. Viewers are free and don't count towards your plan's user limit.",
    ),
    ("h2", "Setup checklist"),
    (
        "table",
        [
            ["Step", "Where", "Time"],
            ["Confirm your email", "Link in the welcome email", "1 min"],
            ["Company profile", "Settings > Company", "5 min"],
            ["Online payments", "Settings > Payments", "5 min + verification"],
            ["Clients", "Clients > New client or Import", "2-10 min"],
            ["First invoice", "Invoices > New invoice", "3 min"],
            ["Reminders", "Settings > Reminders", "2 min"],
            ["Team", "Settings > Team", "2 min"],
        ],
    ),
    ("h2", "Need a hand?"),
    (
        "p",
        "Pro and Enterprise customers can book a free 30-minute onboarding call with our team at "
        "https://ledgerly.example/onboarding. Everyone can email support@ledgerly.example or browse the "
        "help center at https://help.ledgerly.example/.",
    ),
]

SECURITY: list[Block] = [
    ("h1", "Data processing and security overview"),
    (
        "p",
        "This overview describes how Ledgerly stores, protects and processes the data in your account. "
        "It is written for customers who need to assess Ledgerly as a supplier, and complements our Data "
        "Processing Agreement (DPA). Last reviewed: January 2026.",
    ),
    ("h2", "Where your data is stored"),
    (
        "p",
        "Ledgerly runs on Amazon Web Services. Accounts are hosted in the United States (us-east-1, "
        "N. Virginia) unless EU data residency was chosen, in which case all account data is stored and "
        "processed in the European Union (eu-central-1, Frankfurt).",
    ),
    (
        "bullets",
        [
            "EU data residency is available on the Enterprise plan.",
            "The hosting region is chosen when the account is created and can't be changed later.",
            "Backups are stored in the same region as the account.",
        ],
    ),
    ("h2", "Encryption"),
    (
        "bullets",
        [
            "All data is encrypted at rest with AES-256, including databases, file storage and backups.",
            "All connections use TLS 1.2 or higher. HTTP Strict Transport Security (HSTS) is enabled on all "
            "Ledgerly domains.",
            "API keys and webhook signing secrets are stored hashed or encrypted and can't be read back after "
            "they are created.",
        ],
    ),
    ("h2", "Payment card data"),
    (
        "p",
        "Card numbers never touch Ledgerly's servers. The payment form is served by our payment "
        "processor, which is certified PCI DSS Level 1, and Ledgerly only stores a token and the last four "
        "digits of a card. Ledgerly itself completes a PCI DSS Self-Assessment Questionnaire A each year.",
    ),
    ("h2", "Backups and recovery"),
    (
        "p",
        "Databases are backed up continuously with point-in-time recovery for 35 days. Our recovery point "
        "objective (RPO) is 15 minutes and our recovery time objective (RTO) is 4 hours. Restores are tested "
        "every quarter.",
    ),
    ("h2", "Access by Ledgerly staff"),
    (
        "p",
        "Ledgerly employees can access customer data only when needed to provide the service, for example "
        "to resolve a support request you made. Staff sign in to internal tools with single sign-on and "
        "hardware security keys, access is granted per role, and every access to an account is logged and "
        "reviewed.",
    ),
    ("h2", "Certifications and testing"),
    (
        "bullets",
        [
            "SOC 2 Type II audit every year. Customers can request the latest report under NDA from "
            "trust@ledgerly.example.",
            "Penetration test by an independent firm every year, plus after major changes.",
            "A public vulnerability disclosure programme at https://ledgerly.example/security.",
        ],
    ),
    ("h2", "GDPR and the Data Processing Agreement"),
    (
        "p",
        "For the personal data of your clients, you are the controller and Ledgerly is your processor. "
        "Sign our DPA, which includes the EU Standard Contractual Clauses and the UK Addendum, in the app "
        "under Settings > Account > Legal > Data processing agreement. Ledgerly also complies with the "
        "CCPA/CPRA as a service provider.",
    ),
    ("h2", "Subprocessors"),
    (
        "p",
        "The current list is published at https://ledgerly.example/subprocessors. We email account Owners "
        "at least 30 days before adding a new subprocessor, so you can object.",
    ),
    (
        "table",
        [
            ["Subprocessor", "Purpose", "Location"],
            ["Amazon Web Services", "Hosting, storage, backups", "US or EU"],
            ["Stripe", "Payment processing", "US, EU"],
            ["Twilio", "SMS codes for two-factor authentication", "US"],
            ["Cloudflare", "Content delivery and DDoS protection", "Global"],
        ],
    ),
    ("h2", "Security incidents"),
    (
        "p",
        "If we confirm a breach affecting personal data in your account, we notify the account Owner "
        "without undue delay and in any case within 72 hours, with what we know, what we are doing and what "
        "you should do.",
    ),
    ("h2", "Data retention and deletion"),
    (
        "p",
        "Data stays in your account until you delete it. When an account is deleted it is deactivated for "
        "30 days and then permanently deleted; copies in backups expire within a further 35 days. See "
        '"Exporting your data and deleting your account" in the help center.',
    ),
]


def build_pdf(path: Path) -> None:
    """Render GUIDE as a multi-page PDF with real heading styles (a loader can keep the structure)."""
    from reportlab import rl_config
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import (
        ListFlowable,
        ListItem,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    rl_config.invariant = 1  # fixed document ID and dates: identical bytes on every run
    styles = getSampleStyleSheet()
    story: list[object] = []
    for kind, value in GUIDE:
        if kind == "h1":
            story.append(Paragraph(str(value), styles["Title"]))
        elif kind == "h2":
            story.append(Paragraph(str(value), styles["Heading2"]))
        elif kind == "p":
            story.append(Paragraph(_escape(str(value)), styles["BodyText"]))
        elif kind == "bullets":
            items = [ListItem(Paragraph(_escape(item), styles["BodyText"])) for item in _strings(value)]
            story.append(ListFlowable(items, bulletType="bullet", leftIndent=14))
        elif kind == "table":
            table = Table(value, hAlign="LEFT", colWidths=[1.9 * inch, 2.6 * inch, 1.7 * inch])
            table.setStyle(
                TableStyle(
                    [
                        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8F0FE")),
                        ("FONTSIZE", (0, 0), (-1, -1), 9),
                    ]
                )
            )
            story.append(table)
        elif kind == "pagebreak":
            story.append(PageBreak())
        story.append(Spacer(1, 4))

    def footer(canvas: object, doc: object) -> None:
        canvas.saveState()  # type: ignore[attr-defined]
        canvas.setFont("Helvetica", 8)  # type: ignore[attr-defined]
        canvas.drawString(  # type: ignore[attr-defined]
            inch,
            0.5 * inch,
            f"Ledgerly - Getting started guide - page {doc.page}",  # type: ignore[attr-defined]
        )
        canvas.restoreState()  # type: ignore[attr-defined]

    path.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(
        str(path),
        pagesize=LETTER,
        title="Getting started with Ledgerly",
        author="Ledgerly Help Center",
        subject="Getting started guide",
        creator="examples/tools/make_binary_docs.py",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)


def build_docx(path: Path) -> None:
    """Write SECURITY with Heading 1/2 styles, then normalise the zip so the bytes are reproducible."""
    import docx

    document = docx.Document()
    props = document.core_properties
    props.title = "Data processing and security overview"
    props.author = "Ledgerly Security Team"
    props.last_modified_by = "Ledgerly Security Team"
    props.created = FIXED_DATE
    props.modified = FIXED_DATE
    props.revision = 1
    for kind, value in SECURITY:
        if kind == "h1":
            document.add_heading(str(value), level=1)
        elif kind == "h2":
            document.add_heading(str(value), level=2)
        elif kind == "p":
            document.add_paragraph(str(value))
        elif kind == "bullets":
            for item in _strings(value):
                document.add_paragraph(item, style="List Bullet")
        elif kind == "table":
            rows = list(value)  # type: ignore[call-overload]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
    buffer = io.BytesIO()
    document.save(buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_normalised_zip(buffer.getvalue()))


def _normalised_zip(data: bytes) -> bytes:
    """python-docx stamps zip entries with the current time; rewrite them with a fixed one."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_DATE.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def _strings(value: object) -> list[str]:
    assert isinstance(value, list)
    return [str(item) for item in value]


def _escape(text: str) -> str:
    """reportlab paragraphs parse a mini-markup; escape the characters it treats specially."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=PUBLIC_DIR, help="help-center root (default: %(default)s)")
    args = parser.parse_args(argv)
    build_pdf(args.out / PDF_PATH)
    build_docx(args.out / DOCX_PATH)
    print(f"wrote {args.out / PDF_PATH} and {args.out / DOCX_PATH}")


if __name__ == "__main__":
    main()
