"""Charts as inline SVG strings (matplotlib, Agg): no files, no network, text drawn as paths."""

import functools
import io
import re
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib
from matplotlib.figure import Figure

# Applied per chart through rc_context: importing alignaudit changes nobody's matplotlib (no
# global backend, no global rcParams), and Figure objects need no pyplot state at all.
STYLE = {
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
PALETTE = ["#3b6ea8", "#d1495b", "#edae49", "#66a182", "#8d6a9f", "#00798c", "#9e9e9e"]


def _styled(chart: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(chart)
    def draw(*args: object, **kwargs: object) -> str:
        with matplotlib.rc_context(STYLE):
            return chart(*args, **kwargs)

    return draw


def _axes(figsize: tuple[float, float]) -> tuple[Figure, Any]:
    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def _to_svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    return svg[svg.find("<svg") :]  # drop the XML prolog so it can sit inside HTML


@_styled
def rate_bars(
    labels: Sequence[str],
    rates: Sequence[float | None],
    intervals: Sequence[list[float] | None],
    title: str,
    xlabel: str = "% of requests (95% bootstrap interval)",
) -> str:
    fig, ax = _axes((7, 0.45 * len(labels) + 1.2))
    values = [100 * (r or 0) for r in rates]
    errors = [
        [100 * ((r or 0) - ci[0]) if ci else 0 for r, ci in zip(rates, intervals, strict=True)],
        [100 * (ci[1] - (r or 0)) if ci else 0 for r, ci in zip(rates, intervals, strict=True)],
    ]
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
    ax.barh(labels, values, xerr=errors, color=colors, capsize=3)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    return _to_svg(fig)


@_styled
def category_bars(
    categories: Sequence[str],
    series: dict[str, Sequence[float | None]],
    title: str,
    xlabel: str = "% of requests",
) -> str:
    fig, ax = _axes((7.5, 0.32 * len(categories) * max(1, len(series)) / 2 + 1.5))
    height = 0.8 / max(1, len(series))
    for index, (name, values) in enumerate(series.items()):
        positions = [c + index * height for c in range(len(categories))]
        ax.barh(
            positions,
            [100 * (v or 0) for v in values],
            height=height,
            label=name,
            color=PALETTE[index % len(PALETTE)],
        )
    ax.set_yticks([c + 0.4 - height / 2 for c in range(len(categories))], categories)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(xlabel)
    # Outside the axes: inside, it covers the bars of the last categories.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.set_title(title, loc="left")
    return _to_svg(fig)


@_styled
def line_chart(
    x: Sequence[float],
    y: Sequence[float | None],
    title: str,
    xlabel: str,
    references: dict[str, float | None] | None = None,
    label: str = "ED",
    ylabel: str = "% of requests",
) -> str:
    fig, ax = _axes((6, 3.2))
    ax.plot(x, [100 * (v or 0) for v in y], marker="o", color=PALETTE[1], label=label)
    for index, (name, value) in enumerate((references or {}).items()):
        if value is not None:
            ax.axhline(
                100 * value, linestyle="--", color=PALETTE[(index * 2) % len(PALETTE)], label=name
            )
    ax.set_ylim(0, 100)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.set_title(title, loc="left")
    return _to_svg(fig)
