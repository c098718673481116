"""Charts as inline SVG drawn on the server: nothing to download, readable without JavaScript."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#319795", "#b7791f", "#718096")
FONT = 'font-family="system-ui, sans-serif"'


def _svg(width: float, height: float, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>')


def bars(items: Sequence[tuple[str, float]], label: str, width: int = 560,
         value_format: str = "{:g}", color: str = PALETTE[0], max_value: float | None = None) -> Markup:
    """Horizontal bars, one per item, with the value at the end."""
    if not items:
        return Markup('<p class="muted">暂无数据 (no data)</p>')
    row, left, right = 24, 190, 70
    top = max_value or max(v for _, v in items) or 1
    body = []
    for i, (name, value) in enumerate(items):
        y = i * row
        w = (width - left - right) * (value / top if top else 0)
        text = str(name) if len(str(name)) <= 12 else str(name)[:11] + "…"
        body.append(
            f'<g><title>{escape(name)}: {escape(value_format.format(value))}</title>'
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end" font-size="12" {FONT}>'
            f'{escape(text)}</text>'
            f'<rect x="{left}" y="{y + 4}" width="{max(w, 1):.1f}" height="{row - 8}" rx="3" '
            f'fill="{color}"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + 16}" font-size="12" fill="#333" {FONT}>'
            f'{escape(value_format.format(value))}</text></g>')
    return _svg(width, row * len(items) + 4, body, label)


def stacked_columns(days: Sequence[str], series: Mapping[str, Sequence[int]], label: str,
                    width: int = 1100, height: int = 220) -> Markup:
    """Cases per day, one colour per series, with a legend."""
    if not days:
        return Markup('<p class="muted">暂无数据 (no data)</p>')
    left, bottom, legend = 36, 28, 22
    plot_h = height - bottom - legend
    totals = [sum(s[i] for s in series.values()) for i in range(len(days))]
    top = max(max(totals), 1)
    step = (width - left - 8) / len(days)
    body = [f'<line x1="{left}" y1="{legend + plot_h}" x2="{width}" y2="{legend + plot_h}" stroke="#999"/>',
            f'<text x="{left - 6}" y="{legend + 10}" text-anchor="end" font-size="11" {FONT}>{top}</text>',
            f'<text x="{left - 6}" y="{legend + plot_h}" text-anchor="end" font-size="11" {FONT}>0</text>']
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    for i, day in enumerate(days):
        y = legend + plot_h
        for name, values in series.items():
            h = plot_h * values[i] / top
            if h > 0:
                y -= h
                body.append(f'<rect x="{left + i * step + 1:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
                            f'height="{h:.1f}" fill="{colours[name]}"><title>{escape(day)} '
                            f'{escape(name)}: {values[i]}</title></rect>')
        if len(days) <= 14 or i % max(len(days) // 10, 1) == 0:
            body.append(f'<text x="{left + (i + 0.5) * step:.1f}" y="{height - 10}" text-anchor="middle" '
                        f'font-size="10" fill="#555" {FONT}>{escape(day[5:])}</text>')
    x = left
    for name, colour in colours.items():
        body.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>'
                    f'<text x="{x + 16}" y="14" font-size="12" {FONT}>{escape(name)}</text>')
        x += 28 + 8 * len(str(name))
    return _svg(width, height, body, label)


def _heat(fraction: float, diagonal: bool) -> str:
    """White → green on the diagonal (right), white → red elsewhere (mistakes)."""
    f = max(0.0, min(1.0, fraction))
    if diagonal:
        r, g, b = 255 - 200 * f, 255 - 90 * f, 255 - 170 * f
    else:
        r, g, b = 255 - 35 * f, 255 - 200 * f, 255 - 200 * f
    return f"rgb({r:.0f},{g:.0f},{b:.0f})"


def heatmap(labels: Sequence[str], counts: Mapping[tuple[str, str], int], names: Mapping[str, str],
            label: str, cell: int = 20) -> Markup:
    """Confusion matrix: rows are the right class, columns what was predicted; shade is the
    share of the row, hover for the numbers."""
    if not labels:
        return Markup('<p class="muted">没有混淆 (no confusions)</p>')
    margin = 170
    size = cell * len(labels)
    body = [f'<text x="{margin + size / 2}" y="12" text-anchor="middle" font-size="12" {FONT}>'
            '预测为 predicted →</text>']
    for j, col in enumerate(labels):
        x = margin + j * cell + cell / 2
        body.append(f'<text transform="translate({x + 4:.1f},{margin - 4}) rotate(-60)" font-size="10" '
                    f'{FONT}><title>{escape(col)} {escape(names.get(col, ""))}</title>'
                    f'{escape(_short(names.get(col) or col))}</text>')
    for i, row in enumerate(labels):
        total = sum(c for (r, _), c in counts.items() if r == row) or 1
        y = margin + i * cell
        body.append(f'<text x="{margin - 6}" y="{y + cell - 4}" text-anchor="end" font-size="10" {FONT}>'
                    f'<title>{escape(row)}</title>{escape(_short(names.get(row) or row))}</text>')
        for j, col in enumerate(labels):
            n = counts.get((row, col), 0)
            body.append(f'<rect class="cell" x="{margin + j * cell}" y="{y}" width="{cell - 1}" '
                        f'height="{cell - 1}" fill="{_heat(n / total, row == col) if n else "#f4f5f7"}">'
                        f'<title>{escape(names.get(row) or row)} → {escape(names.get(col) or col)}: {n}'
                        f'</title></rect>')
    return _svg(margin + size + 10, margin + size + 10, body, label)


def _short(text: str, limit: int = 10) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
