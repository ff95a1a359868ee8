"""Charts drawn on the server as inline SVG strings, for the service's own pages.

Pure functions, text in and text out. The pages load nothing from outside the service, so a chart
holds no script, font, image or link; every text the caller gives is XML-escaped, and the caller
gives every word (already in Finnish, Swedish or English), so this module has no language of its own.
Numbers use a true minus sign (U+2212). Each bar and point carries data-* attributes with the exact
(repr) values, so a browser test can check the drawing against the numbers.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

WIDTH = 760  # the viewBox width; the chart itself is width="100%"
INK = "#1a1a1a"  # text, axes and reference lines
RAISES = "#b3261e"  # a contribution that raises the score: 6.5:1 on white (WCAG non-text >= 3:1)
LOWERS = "#1f5fa8"  # a contribution that lowers it: 6.3:1 on white
NEUTRAL = "#5f5f5f"  # base, total and zero contributions: 6.4:1 on white
GRID = "#d9d9d9"  # decorative grid lines only
DASHED = ' stroke-width="1.5" stroke-dasharray="6 4"'  # threshold and limit lines
MINUS = "\u2212"
#: Series styles: colour, dash pattern and marker all differ, so the lines read without colour.
COLOURS = ("#1f5fa8", "#b3261e", "#2e7d32", "#6a3d9a", "#8a5300", "#00796b", "#1a1a1a")
DASHES = ("", "7 4", "2 3", "9 3 2 3", "4 2")
MARKERS = ("circle", "square", "triangle", "diamond")
_ids = itertools.count(1)


@dataclass(frozen=True)
class Step:
    """One contribution in a waterfall: the caller's (translated) label and its log-odds value."""

    label: str
    value: float
    shown: str = ""  # the feature's value as the caller wants it shown, e.g. "30 kk"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: the decimal mark of the texts a chart shows ("," for Finnish and Swedish): ``decimal_mark``
DECIMAL_MARK: ContextVar[str] = ContextVar("DECIMAL_MARK", default=".")


@contextmanager
def decimal_mark(mark: str) -> Iterator[None]:
    """Charts drawn inside show numbers with ``mark`` (data-* attributes keep the point)."""
    token = DECIMAL_MARK.set(mark)
    try:
        yield
    finally:
        DECIMAL_MARK.reset(token)


def _num(value: float, decimals: int = 2, *, signed: bool = False) -> str:
    """A value for reading: fixed decimals, true minus sign, never "−0.00" nor "+0.00"."""
    text = f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"
    if float(text) == 0:
        text = f"{0.0:.{decimals}f}"
    return text.replace("-", MINUS).replace(".", DECIMAL_MARK.get())


def _plain(value: float, decimals: int) -> str:
    """A value with trailing zeros dropped (0.810 -> 0.81, 1234.0 -> 1234)."""
    text = _num(value, decimals)
    mark = DECIMAL_MARK.get()
    return text.rstrip("0").rstrip(mark) if mark in text else text


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{what} is not a finite number: {value!r}")
    return float(value)


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{_esc(text)}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, extra: str = "") -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}"{extra}/>'
    )


def _domain(values: Iterable[float]) -> tuple[float, float]:
    """The axis range: every value, plus some padding (never an empty range)."""
    found = list(values)
    low, high = min(found), max(found)
    span = (high - low) or max(abs(high), 1.0)
    return low - span * 0.06, high + span * 0.06


def _ticks(low: float, high: float, count: int = 5) -> tuple[list[float], int]:
    """About `count` round tick values inside [low, high], and the decimals they need."""
    raw = (high - low) / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    ticks = [k * step for k in range(math.ceil(low / step), math.floor(high / step) + 1)]
    return ticks, max(0, -math.floor(math.log10(step)))


def _svg(height: float, title: str, desc: str, body: Iterable[str]) -> str:
    uid = f"kyk-chart-{next(_ids)}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{uid}-t {uid}-d" '
        f'id="{uid}" width="100%" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'font-family="system-ui, sans-serif" font-size="12" fill="{INK}">'
        f'<title id="{uid}-t">{_esc(title)}</title><desc id="{uid}-d">{_esc(desc)}</desc>'
    )
    heading = _text(8, 20, title, extra=' font-size="15" font-weight="bold"') if title else ""
    return head + heading + "".join(body) + "</svg>"


def waterfall_svg(
    base: float,
    steps: list[Step],
    *,
    threshold: float | None,
    title: str,
    base_label: str,
    total_label: str,
    threshold_label: str,
    probability_label: str,
    probability: float | None,
) -> str:
    """A horizontal waterfall: the base, one bar per step from the running total, then the total.

    Values are log-odds; `threshold` is on the same (raw-score) scale, `probability` is 0..1.
    """
    base = _finite(base, "base")
    values = [_finite(step.value, f"step {step.label!r}") for step in steps]
    if threshold is not None:
        threshold = _finite(threshold, "threshold")
    if probability is not None and not 0.0 <= probability <= 1.0:  # NaN fails this too
        raise ValueError(f"probability is not between 0 and 1: {probability!r}")
    bars: list[tuple[str, str, float, float, float]] = [("base", base_label, 0.0, base, base)]
    running = base
    for step, value in zip(steps, values, strict=True):
        label = f"{step.label} ({step.shown})" if step.shown else step.label
        end = running + value
        bars.append(("step", label, running, end, value))
        running = end
    bars.append(("total", total_label, 0.0, running, running))

    extra = [threshold] if threshold is not None else []
    low, high = _domain([0.0, *(bar[3] for bar in bars), *extra])
    left, right, top, row = 300.0, 670.0, 56.0, 22.0
    bottom = top + row * len(bars)

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * (right - left)

    out: list[str] = []
    ticks, decimals = _ticks(low, high)
    for tick in ticks:
        out.append(_line(x(tick), top - 4, x(tick), bottom, GRID))
        out.append(_text(x(tick), bottom + 16, _num(tick, decimals), "middle"))
    out.append(_line(left, bottom, right, bottom, INK))
    out.append(_line(x(0.0), top - 4, x(0.0), bottom, INK, ' data-kind="zero"'))
    for i, (kind, label, start, end, value) in enumerate(bars):
        y = top + i * row
        colour = NEUTRAL
        if kind == "step" and value:
            colour = RAISES if value > 0 else LOWERS
        weight = ' font-weight="bold"' if kind == "total" else ""
        low_x, width = min(x(start), x(end)), max(abs(x(end) - x(start)), 1.0)
        out.append(
            f"<g><title>{_esc(label)}: {_num(value, signed=kind == 'step')}</title>"
            + _text(left - 10, y + 15, _clip(label, 44), "end", weight)
            + f'<rect data-kind="{kind}" data-start="{start!r}" data-end="{end!r}" '
            f'data-value="{value!r}" x="{low_x:.2f}" y="{y + 4:.1f}" width="{width:.2f}" '
            f'height="14" fill="{colour}"/>'
            + _text(WIDTH - 8, y + 15, _num(value, signed=kind == "step"), "end", weight)
            + "</g>"
        )
        if i + 1 < len(bars):  # connector: this bar's end is where the next one starts
            joint = ' stroke-dasharray="2 2"'
            out.append(_line(x(end), y + 18, x(end), y + row + 4, NEUTRAL, joint))
    desc = [f"{base_label} {_num(base)}", f"{total_label} {_num(running)}"]
    if threshold is not None:
        at = x(threshold)
        threshold_kind = f' data-kind="threshold" data-value="{threshold!r}"{DASHED}'
        out.append(_line(at, top - 14, at, bottom, INK, threshold_kind))
        side, shift = ("end", -4.0) if at > (left + right) / 2 else ("start", 4.0)
        out.append(_text(at + shift, top - 8, f"{threshold_label} {_num(threshold)}", side))
        desc.append(f"{threshold_label} {_num(threshold)}")
    height = bottom + 30
    if probability is not None:
        chance = f"{probability_label} {_num(probability * 100, 1)}\u00a0%"
        out.append(_text(WIDTH - 8, bottom + 38, chance, "end", ' font-weight="bold"'))
        desc.append(chance)
        height += 20
    return _svg(height, title, ", ".join(desc), out)


def _marker(shape: str, x: float, y: float, colour: str, extra: str = "", tip: str = "") -> str:
    inner = f"<title>{_esc(tip)}</title>" if tip else ""
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"{extra}>{inner}</circle>'
    path = {
        "square": f"M{x - 3:.1f},{y - 3:.1f}h6v6h-6z",
        "triangle": f"M{x:.1f},{y - 4.5:.1f}l4.5,8h-9z",
        "diamond": f"M{x:.1f},{y - 4.5:.1f}l4.5,4.5l-4.5,4.5l-4.5,-4.5z",
    }[shape]
    return f'<path d="{path}" fill="{colour}"{extra}>{inner}</path>'


def trend_svg(
    x_labels: list[str],
    series: dict[str, list[float | None]],
    *,
    title: str,
    y_label: str,
    limit: float | None = None,
    limit_label: str = "",
    empty_text: str = "",
) -> str:
    """Lines over runs (x = run, in order); None is a gap that breaks the line; optional limit line.

    With no runs or no values at all, the chart says `empty_text` instead.
    """
    runs, clean = len(x_labels), dict[str, list[float | None]]()
    for name, values in series.items():
        if len(values) != runs:
            raise ValueError(f"series {name!r} has {len(values)} values for {runs} runs")
        clean[name] = [None if v is None else _finite(v, f"series {name!r}") for v in values]
    if limit is not None:
        limit = _finite(limit, "limit")
    points = [value for values in clean.values() for value in values if value is not None]
    if not points:
        return _svg(84, title, empty_text, [_text(WIDTH / 2, 56, empty_text, "middle")])

    low, high = _domain(points + ([limit] if limit is not None else []))
    left, right, top, bottom = 72.0, WIDTH - 24.0, 44.0, 284.0

    def x(i: int) -> float:
        return (left + right) / 2 if runs == 1 else left + i * (right - left) / (runs - 1)

    def y(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    out: list[str] = []
    ticks, decimals = _ticks(low, high)
    for tick in ticks:
        out.append(_line(left, y(tick), right, y(tick), GRID))
        out.append(_text(left - 6, y(tick) + 4, _num(tick, decimals), "end"))
    out.append(_line(left, top, left, bottom, INK) + _line(left, bottom, right, bottom, INK))
    middle = (top + bottom) / 2
    out.append(_text(14, middle, y_label, "middle", f' transform="rotate(-90 14 {middle:.1f})"'))
    every = math.ceil(runs / 9)  # at most nine run labels under the axis
    for i, label in enumerate(x_labels):
        out.append(_line(x(i), bottom, x(i), bottom + 4, INK))
        if i % every == 0:
            out.append(_text(x(i), bottom + 18, _clip(label, 12), "middle"))
    if limit is not None:
        limit_kind = f' data-kind="limit" data-value="{limit!r}"{DASHED}'
        out.append(_line(left, y(limit), right, y(limit), INK, limit_kind))
        out.append(_text(right, y(limit) - 5, limit_label, "end"))
    legend_top, column = bottom + 44, (WIDTH - 24) / 3
    desc: list[str] = []
    for k, (name, values) in enumerate(clean.items()):
        colour, dash_pattern, shape = COLOURS[k % 7], DASHES[k % 5], MARKERS[k % 4]
        dashing = f' stroke-dasharray="{dash_pattern}"' if dash_pattern else ""
        stroke = f' fill="none" stroke-width="2"{dashing}'
        out.append(f'<g data-series="{_esc(name)}">')
        segments: list[list[tuple[int, float]]] = [[]]
        for i, value in enumerate(values):
            if value is None:
                if segments[-1]:
                    segments.append([])
            else:
                segments[-1].append((i, value))
        for segment in segments:
            if len(segment) > 1:
                coords = " ".join(f"{x(i):.1f},{y(value):.1f}" for i, value in segment)
                out.append(f'<polyline points="{coords}" stroke="{colour}"{stroke}/>')
            for i, value in segment:
                tip = f"{name}, {x_labels[i]}: {_plain(value, decimals + 1)}"
                data = f' data-index="{i}" data-value="{value!r}"'
                out.append(_marker(shape, x(i), y(value), colour, data, tip))
        out.append("</g>")
        lx, ly = 24 + (k % 3) * column, legend_top + (k // 3) * 20
        out.append(
            '<g data-kind="legend">'
            + _line(lx, ly, lx + 28, ly, colour, stroke)
            + _marker(shape, lx + 14, ly, colour)
            + _text(lx + 36, ly + 4, _clip(name, 30))
            + "</g>"
        )
        last = next((value for value in reversed(values) if value is not None), None)
        if last is not None:
            desc.append(f"{name}: {_plain(last, decimals + 1)}")
    height = legend_top + math.ceil(len(series) / 3) * 20
    return _svg(height, title, "; ".join(desc), out)
