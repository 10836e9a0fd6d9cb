"""Presenting an evaluation report: a self-contained HTML page and a comparison with a previous run.

The HTML has no scripts and loads nothing: plots are inline SVG, so the file can be attached
to a CI run or mailed and still open anywhere.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

QUALITY = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "abstention_precision",
           "abstention_recall", "citation_validity", "answer_correct", "fact_recall", "fact_in_opening")
# Answer metrics where lower is better: a rise is the regression.
LOWER_IS_BETTER = ("invented_rate", "unsupported_rate", "leak_rate")
LATENCY = (("retrieval", "p50"), ("retrieval", "p95"), ("answer", "p50"), ("answer", "p95"),
           ("first_token", "p50"), ("first_token", "p95"))


# --------------------------------------------------------------------------- comparison


def _latency(report: dict[str, Any], stage: str, pct: str) -> float | None:
    value = (report.get("latency_ms") or {}).get(stage) or {}
    found = value.get(pct)
    return float(found) if found is not None else None


def compare_reports(current: dict[str, Any], previous: dict[str, Any], *, tolerance: float = 0.02,
                    latency_tolerance: float = 0.25, latency_floor_ms: float = 5.0) -> list[dict[str, Any]]:
    """One row per metric; a quality metric regresses when it drops by more than ``tolerance``
    (absolute), a latency when it grows by more than ``latency_tolerance`` (relative) and by at
    least ``latency_floor_ms`` (so timer noise on fast stages does not count)."""
    rows: list[dict[str, Any]] = []
    for name in QUALITY:
        now, before = current.get(name), previous.get(name)
        delta = None if now is None or before is None else round(now - before, 4)
        rows.append({"metric": name, "previous": before, "current": now, "delta": delta,
                     "regressed": delta is not None and delta < -tolerance})
    for name in LOWER_IS_BETTER:
        now, before = current.get(name), previous.get(name)
        delta = None if now is None or before is None else round(now - before, 4)
        # leaks are never tolerated; the other rates get the same tolerance as quality metrics
        limit = 0.0 if name == "leak_rate" else tolerance
        rows.append({"metric": name, "previous": before, "current": now, "delta": delta,
                     "regressed": delta is not None and delta > limit})
    for stage, pct in LATENCY:
        now, before = _latency(current, stage, pct), _latency(previous, stage, pct)
        delta = None if now is None or before is None else round(now - before, 2)
        regressed = (delta is not None and before is not None and delta > latency_floor_ms
                     and delta > latency_tolerance * before)
        rows.append({"metric": f"{stage}_{pct}_ms", "previous": before, "current": now, "delta": delta,
                     "regressed": regressed})
    return rows


def load_report(path: Path) -> dict[str, Any]:
    from assistant.errors import ConfigError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"Report {path} not found", hint="pass the report.json of an earlier run") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"Report {path} is not valid JSON ({exc.msg})",
                          hint="pass the report.json written by `assistant eval`") from exc
    if not isinstance(data, dict) or "recall@5" not in data:
        raise ConfigError(f"{path} is not an evaluation report", hint="pass the report.json of an earlier run")
    return data


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border-bottom:1px solid #dde;padding:.25rem .6rem;
text-align:left;vertical-align:top}th{background:#f3f4f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
mark.inv{background:#f9d0cc}mark.fact{background:#d3f0dc}.answer{white-space:pre-wrap;max-width:60rem}
.miss{color:#b3261e}.ok{color:#1b7f3b}.muted{color:#667}.warn{background:#fff6e0;padding:.5rem 1rem}
svg{background:#fbfbfd;border:1px solid #e4e6ee}
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return html.escape(str(value))


def _rank_plot(per_question: Sequence[dict[str, Any]]) -> str:
    """First relevant rank per answerable question (1 at the top, misses on the bottom line)."""
    answerable = [q for q in per_question if q["answerable"]]
    if not answerable:
        return "<p class=muted>No answerable questions.</p>"
    width, height, left, top = 900, 240, 40, 15
    step = (width - left - 10) / max(1, len(answerable))
    row = (height - top - 30) / 10
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="first relevant rank per question">']
    for r in range(1, 12):
        y = top + (r - 1) * row
        label = "miss" if r == 11 else str(r)
        parts.append(f'<text x="4" y="{y + 4:.1f}" font-size="10" fill="#667">{label}</text>'
                     f'<line x1="{left}" x2="{width - 5}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eceef4"/>')
    for i, q in enumerate(answerable):
        rank = q["first_rank"] or 11
        x = left + i * step + step / 2
        y = top + (rank - 1) * row
        color = "#1b7f3b" if rank <= 5 else ("#c77700" if rank <= 10 else "#b3261e")
        title = html.escape(f"{q['question']} — rank {q['first_rank'] or 'miss'}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"><title>{title}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def _score_plot(per_question: Sequence[dict[str, Any]], thresholds: dict[str, float | None]) -> str:
    """Best dense score per question, answerable vs not, with the abstention thresholds."""
    width, height, left = 900, 150, 110
    scores = [q["best_dense"] for q in per_question] + [t for t in thresholds.values() if t is not None]
    if not scores:
        return ""
    lo, hi = min(0.0, *scores), max(1.0, *scores)

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (width - left - 15)

    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="best dense score per question">']
    for label, y, answerable in (("answerable", 40, True), ("unanswerable", 90, False)):
        parts.append(f'<text x="6" y="{y + 4}" font-size="11">{label}</text>')
        for q in per_question:
            if q["answerable"] is answerable:
                title = html.escape(f"{q['question']} — {q['best_dense']:.3f}")
                fill = "#2f5fb3" if answerable else "#b3261e"
                parts.append(f'<circle cx="{x(q["best_dense"]):.1f}" cy="{y}" r="4" fill="{fill}" '
                             f'fill-opacity=".55"><title>{title}</title></circle>')
    for (name, value), color, label_y in zip(thresholds.items(), ("#222", "#1b7f3b"), (height - 28, 14),
                                             strict=False):
        if value is not None:
            parts.append(f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="15" y2="{height - 25}" '
                         f'stroke="{color}" stroke-dasharray="4 3"/><text x="{x(value) + 3:.1f}" y="{label_y}" '
                         f'font-size="10" fill="{color}">{html.escape(name)} {value:.3f}</text>')
    for tick in range(0, 11, 2):
        v = lo + (hi - lo) * tick / 10
        parts.append(f'<text x="{x(v) - 8:.1f}" y="{height - 6}" font-size="10" fill="#667">{v:.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _histogram(values: Sequence[float], label: str, bins: int = 24) -> str:
    if not values:
        return f"<p class=muted>No {html.escape(label)} timings.</p>"
    width, height, left, bottom = 440, 170, 30, 30
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    top = max(counts)
    bar = (width - left - 10) / bins
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(label)} histogram">',
             f'<text x="{left}" y="14" font-size="11">{html.escape(label)} (ms)</text>']
    for i, c in enumerate(counts):
        h = (height - bottom - 22) * c / top
        parts.append(f'<rect x="{left + i * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar - 1:.1f}" '
                     f'height="{h:.1f}" fill="#2f5fb3"><title>{c}</title></rect>')
    parts.append(f'<text x="{left}" y="{height - 10}" font-size="10" fill="#667">{lo:.1f}</text>'
                 f'<text x="{width - 50}" y="{height - 10}" font-size="10" fill="#667">{hi:.1f}</text></svg>')
    return "".join(parts)


def _mark(text: str, terms: Sequence[str], css: str) -> str:
    """``text`` escaped, with each occurrence of ``terms`` (case-insensitive) wrapped in <mark>."""
    spans: list[tuple[int, int]] = []
    lower = text.lower()
    for term in terms:
        term_lower = term.lower()
        start = lower.find(term_lower) if term_lower else -1
        while start >= 0:
            spans.append((start, start + len(term_lower)))
            start = lower.find(term_lower, start + 1)
    out, at = [], 0
    for start, end in sorted(spans):
        if start < at:
            continue
        out.append(html.escape(text[at:start]) + f"<mark class={css}>" + html.escape(text[start:end]) + "</mark>")
        at = end
    return "".join(out) + html.escape(text[at:])


def _answers(per_question: Sequence[dict[str, Any]]) -> str:
    """Each answer with the facts it holds in green, invented terms in red, missing facts listed."""
    answered = [q for q in per_question if q.get("answer") is not None]
    if not answered:
        return ""
    rows = []
    for q in answered:
        found: list[str] = []  # which alternatives of the found groups to mark
        missing = [tuple(g) for g in q.get("missing_facts") or []]
        for group in q.get("facts") or []:
            if tuple(group) not in missing:
                found.extend(group)
        answer = q["answer"]
        marked = _mark(answer, q.get("invented") or [], "inv")
        if found and not q.get("invented"):
            marked = _mark(answer, found, "fact")
        verdict = ("–" if not q.get("facts_total") else
                   f"<span class={'ok' if q['facts_found'] == q['facts_total'] else 'miss'}>"
                   f"{q['facts_found']}/{q['facts_total']}</span>")
        notes = []
        if missing:
            notes.append("missing: " + "; ".join(" | ".join(html.escape(a) for a in g) for g in missing))
        if q.get("invented"):
            notes.append("invented: " + ", ".join(html.escape(t) for t in q["invented"]))
        if q.get("unsupported"):
            notes.append(f"{len(q['unsupported'])} unsupported sentence(s)")
        if q.get("leak"):
            notes.append("<b>prompt text shown</b>")
        grounding = q.get("grounding") or {}
        if grounding.get("dropped"):
            notes.append(f"guard dropped {grounding['dropped']}/{grounding.get('checked', 0)}"
                         + (", fell back" if grounding.get("fell_back") else ""))
        rows.append(f"<tr><td class=n>{q['line']}</td><td>{html.escape(q['question'])}</td>"
                    f"<td class=n>{verdict}</td><td class=answer>{marked}</td>"
                    f"<td class=miss>{'<br>'.join(notes)}</td></tr>")
    return ("<h2>Answers</h2><p class=muted>Facts found in <mark class=fact>green</mark>, invented terms in "
            "<mark class=inv>red</mark>.</p><table><tr><th>line</th><th>question</th><th>facts</th>"
            "<th>answer</th><th>problems</th></tr>" + "".join(rows) + "</table>")


def render_html(report: dict[str, Any], comparison: Sequence[dict[str, Any]] | None = None) -> str:
    per_question = report.get("per_question", [])
    rows = "".join(f"<tr><th>{html.escape(m)}</th><td class=n>{_fmt(report.get(m))}</td></tr>"
                   for m in (*QUALITY, *LOWER_IS_BETTER, "abstention_f1"))
    latency = "".join(
        f"<tr><th>{html.escape(stage)}</th>" + "".join(f"<td class=n>{_fmt((v or {}).get(p))}</td>"
                                                       for p in ("p50", "p95", "p99")) + "</tr>"
        for stage, v in (report.get("latency_ms") or {}).items()
    )
    calibration = report.get("calibration") or {}
    thresholds = {"configured": report.get("abstain_threshold"), "calibrated": calibration.get("threshold")}
    questions = "".join(
        "<tr>"
        f"<td class=n>{q['line']}</td><td>{html.escape(q['question'])}</td><td>{q['audience']}</td>"
        f"<td>{'yes' if q['answerable'] else 'no'}</td>"
        f"<td class='n {'ok' if q['first_rank'] else ('miss' if q['answerable'] else '')}'>"
        f"{q['first_rank'] or ('miss' if q['answerable'] else '–')}</td>"
        f"<td class=n>{q['best_dense']:.3f}</td><td>{_fmt(q['abstained'])}</td>"
        f"<td class=n>{q['cited_valid']}/{q['cited']}</td><td class=n>{_fmt(q['retrieval_ms'])}</td>"
        f"<td class=n>{_fmt(q['answer_ms'])}</td><td>{html.escape(q['error'] or '')}</td></tr>"
        for q in per_question
    )
    compare = ""
    if comparison:
        compare = "<h2>Compared with the previous report</h2><table><tr><th>metric</th><th>previous</th>" \
                  "<th>current</th><th>delta</th><th></th></tr>" + "".join(
                      f"<tr><th>{html.escape(r['metric'])}</th><td class=n>{_fmt(r['previous'])}</td>"
                      f"<td class=n>{_fmt(r['current'])}</td><td class=n>{_fmt(r['delta'])}</td>"
                      f"<td class={'miss' if r['regressed'] else 'ok'}>{'regressed' if r['regressed'] else ''}</td>"
                      "</tr>" for r in comparison) + "</table>"
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in report.get("warnings", []))
    meta = html.escape(
        f"dataset {report.get('dataset')} · generation {report.get('generation')} · backend {report.get('backend')}"
        f" · {report.get('questions')} questions ({report.get('answerable')} answerable) · abstention from "
        f"{report.get('abstention_from')} · {report.get('created_at')}")
    calibrated = (
        f"Calibrated threshold {_fmt(calibration.get('threshold'))} "
        f"({html.escape(str(calibration.get('criterion', 'not computed')))}): precision "
        f"{_fmt(calibration.get('precision'))}, recall {_fmt(calibration.get('recall'))}, "
        f"F1 {_fmt(calibration.get('f1'))}.")
    retrieval_ms = [q["retrieval_ms"] for q in per_question]
    answer_ms = [q["answer_ms"] for q in per_question if q["answer_ms"] is not None]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation report</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head><body>
<h1>Evaluation report</h1>
<p class=muted>{meta}</p>
{f'<div class=warn><b>Warnings</b><ul>{warnings}</ul></div>' if warnings else ''}
<h2>Metrics</h2><table>{rows}</table>
<h2>Latency (ms)</h2><table><tr><th></th><th>p50</th><th>p95</th><th>p99</th></tr>{latency}</table>
{compare}
<h2>First relevant document rank per answerable question</h2>{_rank_plot(per_question)}
<h2>Best dense score (abstention signal)</h2>
<p>{calibrated}</p>
{_score_plot(per_question, thresholds)}
<h2>Latency distribution</h2>{_histogram(retrieval_ms, 'retrieval')} {_histogram(answer_ms, 'answer')}
{_answers(per_question)}
<h2>Questions</h2><table><tr><th>line</th><th>question</th><th>audience</th><th>answerable</th><th>rank</th>
<th>best dense</th><th>abstained</th><th>valid cites</th><th>retrieval ms</th><th>answer ms</th><th>error</th></tr>
{questions}</table>
</body></html>
"""


def write_report(report: dict[str, Any], out_dir: Path, comparison: Sequence[dict[str, Any]] | None = None) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(report, comparison), encoding="utf-8")
    return out_dir
