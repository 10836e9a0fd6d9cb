"""HTML parsing speed for ingestion, as a ratio against BeautifulSoup's own parse of the same files.

``parse_html`` (ingest/sources/formats/html_format.py) builds the tree with BeautifulSoup's
``html.parser``, drops site furniture (headers, footers, link bars, tables of contents) and walks
the page into blocks. The baseline, timed in the same run on the same files, is the tree alone:
what is left to our own code is the ratio above 1. A large manual's nightly ingest parses every
changed page, and a Sphinx page of 750 KB (Python's ``library/os.html``) took 13 s before the
furniture pass stopped asking BeautifulSoup's filters about every tag.

    python benchmarks/html_parse.py DIR [--limit N] [--json]

DIR: any folder of .html pages (the httpd manual from ``../shared/datasets/httpd/build.sh``, a
Sphinx build, ``examples/``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run(pages: list[Path]) -> dict[str, float]:
    from bs4 import BeautifulSoup

    from ingest.sources.formats.html_format import parse_html

    texts = [p.read_text(encoding="utf-8", errors="replace") for p in pages]
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    start = time.perf_counter()
    for text in texts:
        BeautifulSoup(text, "html.parser")
    tree_s = time.perf_counter() - start
    start = time.perf_counter()
    blocks = sum(len(parse_html(text).blocks) for text in texts)
    parse_s = time.perf_counter() - start
    return {"pages": len(pages), "megabytes": round(megabytes, 2), "blocks": blocks,
            "tree_s": round(tree_s, 2), "parse_s": round(parse_s, 2),
            "parse_mb_per_s": round(megabytes / parse_s, 2), "ratio_to_tree": round(parse_s / tree_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="at most this many pages, largest first")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pages = sorted(args.dir.rglob("*.html"), key=lambda p: -p.stat().st_size)
    if args.limit:
        pages = pages[: args.limit]
    if not pages:
        raise SystemExit(f"no .html files under {args.dir}")
    result = run(pages)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['pages']} pages, {result['megabytes']} MB, {result['blocks']} blocks")
    print(f"BeautifulSoup tree alone: {result['tree_s']} s")
    print(f"parse_html:               {result['parse_s']} s ({result['parse_mb_per_s']} MB/s), "
          f"{result['ratio_to_tree']}x the tree alone")


if __name__ == "__main__":
    main()
