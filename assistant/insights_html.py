"""The insights report as one self-contained HTML file: inline SVG charts, no scripts, no CDN.

A lead opens it from an email attachment, offline. The same fragments (:func:`report_sections`)
make up the admin page, which serves :data:`REPORT_CSS` as a file because its content security
policy forbids inline styles; SVG presentation attributes are not styles, so the charts render
under that policy too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

COLORS = {"answered": "#2f7d4f", "abstained": "#d08a1f", "down": "#b3261e", "handoffs": "#5b4bc4",
          "bar": "#2f6db3", "grid": "#d9dde3", "text": "#333a44"}

REPORT_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:0;background:#f6f7f9}
main{max-width:1080px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}h3{font-size:15px;margin:0 0 6px}
.muted{color:#5b6472}.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.kpi{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:12px}
.kpi b{display:block;font-size:24px}.card{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:16px;
margin-bottom:12px}table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;
padding:6px 8px;border-bottom:1px solid #eceef1;vertical-align:top}th{font-size:13px;color:#5b6472}
.num{text-align:right;font-variant-numeric:tabular-nums}svg{max-width:100%;height:auto}
.tag{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;background:#eef1f5;margin-right:4px}
ol.examples{margin:4px 0 8px 18px;padding:0}.legend span{margin-right:14px;font-size:13px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px}
"""


def _pct(part: int | float, whole: int | float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000):
        if value <= step * 5:
            return float(step * 5)
    return float(value)


def trend_svg(per_day: list[dict[str, Any]], *, width: int = 960, height: int = 260) -> str:
    """Stacked bars per day (answered, declined) with not-helpful ratings and hand-offs as lines."""
    if not per_day:
        return ""
    left, right, top, bottom = 44, 12, 14, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max(d["questions"] for d in per_day))
    step = plot_w / len(per_day)
    bar = max(2.0, step * 0.7)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Questions per day: answered, declined, thumbs-down and hand-offs">']
    for i in range(6):
        y = top + plot_h - plot_h * i / 5
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{COLORS["grid"]}"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="{COLORS["text"]}">{int(peak * i / 5)}</text>')
    label_every = max(1, len(per_day) // 10)
    lines: dict[str, list[str]] = {"down": [], "handoffs": []}
    for i, day in enumerate(per_day):
        x = left + i * step + (step - bar) / 2
        base = top + plot_h
        for key in ("answered", "abstained"):
            h = plot_h * day[key] / peak
            if h > 0:
                parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                             f'fill="{COLORS[key]}"><title>{escape(day["day"])}: {day[key]} {key}</title></rect>')
            base -= h
        cx = left + i * step + step / 2
        for key in lines:
            lines[key].append(f"{cx:.1f},{top + plot_h - plot_h * day[key] / peak:.1f}")
        if i % label_every == 0:
            parts.append(f'<text x="{cx:.1f}" y="{height - bottom + 16}" font-size="11" text-anchor="middle" '
                         f'fill="{COLORS["text"]}">{escape(day["day"][5:])}</text>')
    for key, points in lines.items():
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{COLORS[key]}" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts) + _legend_svg()


def _legend_svg() -> str:
    items = (("answered", "answered"), ("abstained", "declined"), ("down", "not helpful (line)"),
             ("handoffs", "hand-offs (line)"))
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 22" width="600" height="22" role="img" '
             'aria-label="legend">']
    for i, (key, label) in enumerate(items):
        x = 44 + i * 135
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{COLORS[key]}"/>'
                     f'<text x="{x + 16}" y="15" font-size="12" fill="{COLORS["text"]}">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def hbars_svg(rows: list[tuple[str, float, str]], *, width: int = 960, label_w: int = 360,
              color: str = COLORS["bar"], aria: str = "bar chart") -> str:
    """Horizontal bars: (label, value, text shown after the bar)."""
    if not rows:
        return ""
    row_h, gap = 24, 8
    height = len(rows) * (row_h + gap) + gap
    peak = max(v for _, v, _ in rows) or 1.0
    plot_w = width - label_w - 120
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(aria)}">']
    for i, (label, value, shown) in enumerate(rows):
        y = gap + i * (row_h + gap)
        w = max(1.0, plot_w * value / peak)
        short = label if len(label) <= 52 else label[:51] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" font-size="12" text-anchor="end" '
                     f'fill="{COLORS["text"]}">{escape(short)}<title>{escape(label)}</title></text>'
                     f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h}" fill="{color}" rx="3"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" font-size="12" '
                     f'fill="{COLORS["text"]}">{escape(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def funnel_svg(data: dict[str, Any]) -> str:
    questions = data["questions"]
    not_down = data["answered"] - min(data["answered"], data["feedback"]["down"])
    rows = [("questions", questions), ("answered (not declined)", data["answered"]),
            ("answered, not rated unhelpful", not_down), ("settled without a human (deflected)", data["deflected"])]
    return hbars_svg([(label, float(n), f"{n}  ({_pct(n, questions)})") for label, n in rows],
                     label_w=300, color=COLORS["answered"], aria="funnel from questions to deflected")


def gaps_svg(gaps: list[dict[str, Any]]) -> str:
    rows = [(g["examples"][0] if g["examples"] else "?", float(g["size"]), f"{g['size']} questions")
            for g in gaps[:10]]
    return hbars_svg(rows, color=COLORS["abstained"], aria="largest coverage gaps")


def _doc(doc: dict[str, Any]) -> str:
    title = escape(doc.get("title") or doc.get("doc_key") or "?")
    url = doc.get("url")
    link = f'<a href="{escape(url)}">{title}</a>' if url and url.startswith(("http://", "https://")) else title
    return f'{link} <span class="tag">{escape(str(doc.get("audience", "")))}</span>'


def report_sections(data: dict[str, Any], *, max_gaps: int = 20) -> str:
    """The report body (KPIs, charts, gaps, documents); used by the file report and the admin page."""
    q = data["questions"]
    lat = data.get("latency_ms") or {}
    fb = data["feedback"]
    kpis = [("Questions", str(q)), ("Answered", f"{data['answered']} ({_pct(data['answered'], q)})"),
            ("Declined", f"{data['abstained']} ({_pct(data['abstained'], q)})"),
            ("Answered unsure", f"{data.get('unsure', 0)} ({_pct(data.get('unsure', 0), q)})"),
            ("LLM fell back", str(data["fallback"])), ("Helpful / not helpful", f"{fb['up']} / {fb['down']}"),
            ("Hand-offs", str(data["handoffs"])), ("Deflection", f"{100 * data['deflection_rate']:.0f}%"),
            ("Latency p50 / p95", f"{_ms(lat.get('p50'))} / {_ms(lat.get('p95'))}")]
    out = ['<section class="kpis" aria-label="key numbers">']
    out += [f'<div class="kpi"><span class="muted">{escape(k)}</span><b>{escape(v)}</b></div>' for k, v in kpis]
    out.append("</section>")
    out.append('<h2>Trend per day</h2><div class="card">' + trend_svg(data["per_day"]) + "</div>")
    out.append('<h2>Funnel</h2><div class="card">' + funnel_svg(data) + "</div>")
    gaps = (data.get("gaps") or [])[:max_gaps]
    out.append('<h2 id="gaps">Coverage gaps</h2>')
    if gaps:
        out.append('<div class="card">' + gaps_svg(gaps) + "</div>")
        for n, gap in enumerate(gaps, 1):
            examples = "".join(f"<li>{escape(e)}</li>" for e in gap["examples"])
            near = "".join(f"<li>{_doc(d)} — similarity {d['similarity']:.2f}</li>" for d in gap["nearest_docs"])
            chans = " ".join(f'<span class="tag">{escape(c)} {n_}</span>' for c, n_ in gap["channels"].items())
            why = " ".join(f'<span class="tag">{escape(r)} {n_}</span>' for r, n_ in gap["reasons"].items())
            last = datetime.fromtimestamp(gap["last_seen"], UTC).strftime("%Y-%m-%d")
            out.append(f'<div class="card gap"><h3>#{n} · {gap["size"]} questions · last {last}</h3>'
                       f'<div>{chans} {why}</div><ol class="examples">{examples}</ol>'
                       f'<div class="muted">Nearest documents:</div><ul>{near or "<li>none</li>"}</ul></div>')
    else:
        out.append('<p class="muted">No declined, unhelpful or handed-off questions in this period.</p>')
    reasons = data.get("down_reasons") or []
    if reasons:
        out.append("<h2>Why answers were rated not helpful</h2><table><tr><th>reason</th><th class=num>times</th></tr>")
        out += [f"<tr><td>{escape(r['reason'])}</td><td class=num>{r['count']}</td></tr>" for r in reasons]
        out.append("</table>")
    out.append("<h2>Most cited documents</h2>")
    cited = data.get("top_cited") or []
    out.append(hbars_svg([(d["title"], float(d["citations"]), str(d["citations"])) for d in cited[:10]],
                         aria="most cited documents") if cited else '<p class="muted">No citations.</p>')
    never = data.get("never_cited") or []
    out.append(f"<h2>Documents never cited ({len(never)})</h2>")
    if never:
        out.append("<ul>" + "".join(f"<li>{_doc(d)}</li>" for d in never) + "</ul>")
    return "\n".join(out)


def _ms(value: float | None) -> str:
    return "–" if value is None else (f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms")


def render_report(data: dict[str, Any], *, product: str = "Support assistant") -> str:
    """A complete HTML document: open it in any browser, no network needed."""
    channel = f" · channel {escape(data['channel'])}" if data.get("channel") else ""
    since, until = data["period"]["since"][:16].replace("T", " "), data["period"]["until"][:16].replace("T", " ")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(product)} insights {escape(since[:10])} – {escape(until[:10])}</title>"
            f"<style>{REPORT_CSS}</style></head><body><main>"
            f"<h1>{escape(product)} insights</h1>"
            f'<p class="muted">{escape(since)} – {escape(until)} UTC{channel} · index generation '
            f'{escape(str(data.get("generation") or "none"))}</p>'
            f"{report_sections(data)}</main></body></html>")
