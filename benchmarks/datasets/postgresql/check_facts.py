"""Check the question set against a built corpus: every expected page exists, and every fact group
has an alternative on the first expected page (how the facts were written: from the page, not from
memory). Run it after editing questions.jsonl or rebuilding the corpus for a new package version.

    python benchmarks/datasets/postgresql/check_facts.py ~/.cache/assistant-quality/postgresql-corpus
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def page_text(path: Path) -> str:
    """The page's words as a reader sees them: tags dropped, entities decoded, spaces collapsed, lower case."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(errors="replace")))
    return " ".join(text.split()).lower()


def problems(corpus: Path, questions: Path) -> list[str]:
    found: list[str] = []
    for number, line in enumerate(questions.read_text().splitlines(), start=1):
        case = json.loads(line)
        pages = [corpus / "public" / name for name in case.get("expected_sources", [])]
        missing = [p.name for p in pages if not p.exists()]
        if missing:
            found.append(f"line {number}: no page {', '.join(missing)} ({case['question']})")
            continue
        first = page_text(pages[0]) if case.get("facts") else ""
        for group in case.get("facts") or []:
            if not any(" ".join(alt.lower().split()) in first for alt in group):
                found.append(f"line {number}: none of {group} is on {pages[0].name} ({case['question']})")
    return found


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    found = problems(Path(sys.argv[1]).expanduser(), HERE / "questions.jsonl")
    for problem in found:
        print(problem)
    print(f"{len(found)} problem(s)")
    raise SystemExit(1 if found else 0)


if __name__ == "__main__":
    main()
