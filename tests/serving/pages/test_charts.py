"""The server-drawn SVG charts: well-formed, self-contained, escaped, and the bars add up."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from serving.pages.charts import (
    COLOURS,
    INK,
    LOWERS,
    NEUTRAL,
    RAISES,
    WIDTH,
    Step,
    trend_svg,
    waterfall_svg,
)

pytestmark = [pytest.mark.code]

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script>&"\''
LABELS: dict[str, str] = {
    "title": "Miksi tämä arvio",
    "base_label": "Lähtötaso",
    "total_label": "Yhteensä",
    "threshold_label": "Kynnys",
    "probability_label": "Todennäköisyys",
}
MIXED = [
    Step("Työttömyyden kesto", 0.75, "30 kk"),
    Step("Ikä", -0.4, "52 v"),
    Step("Käynnit", 0.0),
    Step("Sairauspoissaolot", 1e-13),
    Step("Työkyky", -1.25, "heikentynyt"),
    Step("Alue", 0.1),
]


def waterfall(steps: list[Step], **changes: Any) -> str:
    arguments: dict[str, Any] = {
        "threshold": 0.2,
        "probability": 0.4321,
        **LABELS,
        **changes,
    }
    return waterfall_svg(-0.6, steps, **arguments)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def bars(svg: str) -> list[dict[str, str]]:
    return [dict(rect.attrib) for rect in parse(svg).iter(f"{SVG}rect")]


def test_the_bars_chain_and_add_up_for_mixed_signs() -> None:
    found = bars(waterfall(MIXED))
    assert [bar["data-kind"] for bar in found] == ["base"] + ["step"] * len(MIXED) + ["total"]
    base, *steps, total = found
    assert float(base["data-start"]) == 0.0 and float(base["data-end"]) == -0.6
    previous_end = float(base["data-end"])
    for bar, step in zip(steps, MIXED, strict=True):
        assert abs(float(bar["data-start"]) - previous_end) <= 1e-9
        assert float(bar["data-value"]) == step.value
        end = float(bar["data-end"])
        assert abs(end - float(bar["data-start"]) - step.value) <= 1e-9
        previous_end = end
    assert abs(float(total["data-end"]) - previous_end) <= 1e-9
    assert float(total["data-start"]) == 0.0


def test_the_total_is_base_plus_every_step() -> None:
    total = bars(waterfall(MIXED))[-1]
    expected = -0.6 + math.fsum(step.value for step in MIXED)
    assert abs(float(total["data-end"]) - expected) <= 1e-9
    assert abs(float(total["data-value"]) - expected) <= 1e-9


def test_raises_and_lowers_have_their_own_colours() -> None:
    fills = {
        bar["data-value"]: bar["fill"]
        for bar in bars(waterfall(MIXED))
        if bar["data-kind"] == "step"
    }
    assert fills[repr(0.75)] == RAISES and fills[repr(0.1)] == RAISES
    assert fills[repr(-0.4)] == LOWERS and fills[repr(-1.25)] == LOWERS
    assert fills[repr(0.0)] == NEUTRAL


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("colour", [RAISES, LOWERS, NEUTRAL, INK, *COLOURS])
def test_every_colour_reaches_3_to_1_against_white(colour: str) -> None:
    assert 1.05 / (luminance(colour) + 0.05) >= 3.0


def test_numbers_use_signs_and_a_true_minus() -> None:
    svg = waterfall(MIXED)
    texts = [text.text or "" for text in parse(svg).iter(f"{SVG}text")]
    assert "+0.75" in texts and "\u22120.40" in texts and "\u22121.25" in texts
    assert "0.00" in texts  # the zero step and the 1e-13 one: neither "+0.00" nor "−0.00"
    assert "\u22120.60" in texts  # the base, unsigned unless negative
    assert "Todennäköisyys 43.2\u00a0%" in texts
    assert "Työttömyyden kesto (30 kk)" in texts
    assert not any(re.search(r"(?<![\w])-\d", text) for text in texts)  # no hyphen-minus numbers


def test_the_description_summarises_base_total_and_probability() -> None:
    root = parse(waterfall(MIXED))
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text is not None
    assert "Lähtötaso \u22120.60" in desc.text
    assert "Yhteensä \u22121.40" in desc.text
    assert "Todennäköisyys 43.2\u00a0%" in desc.text


def test_the_threshold_line_is_drawn_only_when_given() -> None:
    with_line = parse(waterfall(MIXED, threshold=0.2))
    lines = [line for line in with_line.iter(f"{SVG}line") if line.get("data-kind") == "threshold"]
    assert len(lines) == 1 and float(lines[0].attrib["data-value"]) == 0.2
    assert lines[0].get("stroke-dasharray")
    assert any((text.text or "").startswith("Kynnys 0.20") for text in with_line.iter(f"{SVG}text"))
    without = waterfall(MIXED, threshold=None)
    assert 'data-kind="threshold"' not in without and "Kynnys" not in without


def test_a_far_threshold_and_every_bar_stay_inside_the_picture() -> None:
    root = parse(waterfall(MIXED, threshold=12.0))
    for rect in root.iter(f"{SVG}rect"):
        x, width = float(rect.attrib["x"]), float(rect.attrib["width"])
        assert x >= 0 and x + width <= WIDTH
    for line in root.iter(f"{SVG}line"):
        assert 0 <= float(line.attrib["x1"]) <= WIDTH


def test_many_steps_make_a_taller_chart() -> None:
    many = [Step(f"Tekijä {i}", (-1) ** i * i / 10) for i in range(25)]
    short, tall = parse(waterfall(MIXED[:2])), parse(waterfall(many))
    assert float(tall.attrib["viewBox"].split()[3]) > float(short.attrib["viewBox"].split()[3])
    assert len(list(tall.iter(f"{SVG}rect"))) == 27
    assert tall.attrib["width"] == "100%"


def test_no_steps_and_no_probability_still_draw_base_and_total() -> None:
    svg = waterfall([], threshold=None, probability=None)
    assert [bar["data-kind"] for bar in bars(svg)] == ["base", "total"]
    assert "Todennäköisyys" not in svg


def test_every_caller_text_is_escaped() -> None:
    svg = waterfall_svg(
        0.0,
        [Step(EVIL, 1.0, EVIL)],
        threshold=0.5,
        probability=0.5,
        title=EVIL,
        base_label=EVIL,
        total_label=EVIL,
        threshold_label=EVIL,
        probability_label=EVIL,
    )
    trend = trend_svg([EVIL], {EVIL: [1.0]}, title=EVIL, y_label=EVIL, limit=1.0, limit_label=EVIL)
    for chart in (svg, trend):
        root = parse(chart)
        assert "<script" not in chart and root.find(f".//{SVG}script") is None
        texts = [element.text or "" for element in root.iter()]
        assert EVIL in texts  # the text survives, as text
    assert f'data-series="{EVIL}"' not in trend


def test_non_finite_numbers_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="Ikä"):
        waterfall([Step("Ikä", math.nan)])
    with pytest.raises(ValueError, match="base"):
        waterfall_svg(math.inf, [], threshold=None, probability=None, **LABELS)
    with pytest.raises(ValueError, match="threshold"):
        waterfall(MIXED, threshold=-math.inf)
    with pytest.raises(ValueError, match="probability"):
        waterfall(MIXED, probability=math.nan)
    with pytest.raises(ValueError, match="AUC"):
        trend_svg(["a", "b"], {"AUC": [0.8, math.nan]}, title="t", y_label="y")
    with pytest.raises(ValueError, match="limit"):
        trend_svg(["a"], {"AUC": [0.8]}, title="t", y_label="y", limit=math.inf)
    with pytest.raises(ValueError, match="AUC"):
        trend_svg(["a", "b"], {"AUC": [0.8]}, title="t", y_label="y")


def test_two_charts_on_one_page_have_unique_ids() -> None:
    charts = [
        waterfall(MIXED),
        waterfall(MIXED),
        trend_svg(["a"], {"s": [1.0]}, title="t", y_label="y"),
    ]
    page = ET.fromstring(f'<div xmlns="http://www.w3.org/2000/svg">{"".join(charts)}</div>')
    ids = [element.attrib["id"] for element in page.iter() if "id" in element.attrib]
    assert len(ids) == len(set(ids)) == 9  # the svg, its title and its desc, per chart
    for svg in page.iter(f"{SVG}svg"):
        assert svg.attrib["role"] == "img"
        assert all(ref in ids for ref in svg.attrib["aria-labelledby"].split())


RUNS = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]


def test_a_gap_breaks_the_line() -> None:
    series: dict[str, list[float | None]] = {
        "AUC": [0.81, 0.8, None, 0.79, 0.78, 0.8],
        "Kalibraatio": [0.05, 0.06, 0.04, 0.05, 0.05, 0.07],
    }
    root = parse(trend_svg(RUNS, series, title="Mallin laatu", y_label="Arvo", limit=0.75))
    groups = {
        group.attrib["data-series"]: group
        for group in root.iter(f"{SVG}g")
        if "data-series" in group.attrib
    }
    assert len(groups["AUC"].findall(f"{SVG}polyline")) == 2
    assert len(groups["Kalibraatio"].findall(f"{SVG}polyline")) == 1
    points = [m for m in groups["AUC"] if "data-value" in m.attrib]
    assert [int(m.attrib["data-index"]) for m in points] == [0, 1, 3, 4, 5]
    first = groups["AUC"].findall(f"{SVG}polyline")[0].attrib
    second = groups["Kalibraatio"].findall(f"{SVG}polyline")[0].attrib
    assert first["stroke"] != second["stroke"]
    assert first.get("stroke-dasharray") != second.get(
        "stroke-dasharray"
    )  # readable without colour
    assert [line for line in root.iter(f"{SVG}line") if line.get("data-kind") == "limit"]


def test_the_legend_names_every_series_and_the_desc_their_last_values() -> None:
    series: dict[str, list[float | None]] = {f"Alue {i}": [i, i + 0.5, None] for i in range(8)}
    series["Tyhjä"] = [None, None, None]
    root = parse(trend_svg(RUNS[:3], series, title="t", y_label="y"))
    legend = [g for g in root.iter(f"{SVG}g") if g.get("data-kind") == "legend"]
    names = {text.text for g in legend for text in g.iter(f"{SVG}text")}
    assert names == set(series)
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text is not None
    assert "Alue 3: 3.5" in desc.text and "Alue 0: 0.5" in desc.text


def test_many_runs_thin_the_labels() -> None:
    runs = [f"ajo {i}" for i in range(40)]
    root = parse(trend_svg(runs, {"s": [float(i % 7) for i in range(40)]}, title="t", y_label="y"))
    shown = [text.text for text in root.iter(f"{SVG}text") if (text.text or "").startswith("ajo ")]
    assert 3 <= len(shown) <= 10 and shown[0] == "ajo 0"


@pytest.mark.parametrize(
    ("labels", "series"),
    [([], {}), ([], {"AUC": []}), (["a", "b"], {"AUC": [None, None]}), (["a"], {})],
)
def test_nothing_to_plot_says_the_empty_text(
    labels: list[str], series: dict[str, list[float | None]]
) -> None:
    svg = trend_svg(labels, series, title="Trendi", y_label="y", empty_text="Ei vielä ajoja")
    root = parse(svg)
    assert any(text.text == "Ei vielä ajoja" for text in root.iter(f"{SVG}text"))
    assert "<polyline" not in svg


def test_nothing_is_loaded_from_outside() -> None:
    charts = [
        waterfall(MIXED),
        trend_svg(
            RUNS, {"AUC": [0.8, None, 0.7, 0.7, 0.8, 0.9]}, title="t", y_label="y", limit=0.75
        ),
        trend_svg([], {}, title="t", y_label="y", empty_text="–"),
    ]
    for svg in charts:
        assert svg.count("http") == 1 and svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
        for banned in ("href", "<image", "foreignObject", "<script", "url(", "@import", "<style"):
            assert banned not in svg


def test_a_decimal_comma_for_finnish_and_swedish_texts_but_not_the_data() -> None:
    from serving.pages.charts import decimal_mark

    with decimal_mark(","):
        svg = waterfall_svg(
            -0.6, [Step("a", 0.25)], threshold=None, title="", base_label="b",
            total_label="t", threshold_label="k", probability_label="p", probability=0.432,
        )  # fmt: skip
    assert "p 43,2\u00a0%" in svg and "\u22120,60" in svg
    assert 'data-value="0.25"' in svg
