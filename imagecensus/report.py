"""Plots of the results.

Figures are drawn on matplotlib's Agg canvas directly, without pyplot, so
that plotting changes no global state of the calling program or notebook.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .files import write_bytes_atomic


def scatter_figure(summary: pd.DataFrame, statistics: dict) -> Figure:
    """Draw image-search share of women against census share, one labelled point per term.

    Vertical bars are the 95 % Wilson intervals of the image share. The
    dashed diagonal is equality between the two shares; the solid line is
    the least-squares fit.
    """
    figure = Figure(figsize=(7.5, 7), dpi=120)
    axes = figure.add_subplot()
    points = summary.dropna(subset=["pct_women", "census_pct_women"])
    x = points["census_pct_women"].to_numpy(float)
    y = points["pct_women"].to_numpy(float)

    axes.plot(
        [0, 100],
        [0, 100],
        linestyle="--",
        color="grey",
        linewidth=1,
        label="image share = census share",
    )
    errors = np.vstack(
        [
            y - points["pct_women_ci_low"].to_numpy(float),
            points["pct_women_ci_high"].to_numpy(float) - y,
        ]
    )
    axes.errorbar(
        x,
        y,
        yerr=errors,
        fmt="o",
        color="tab:blue",
        ecolor="tab:blue",
        alpha=0.8,
        elinewidth=1,
        capsize=2,
        label="terms (95 % interval)",
    )
    for term, x_value, y_value in zip(points["term"], x, y, strict=True):
        axes.annotate(
            term, (x_value, y_value), xytext=(4, 4), textcoords="offset points", fontsize=8
        )

    fit = statistics.get("fit") or {}
    if fit.get("slope") is not None:
        line_x = np.array([0, 100])
        axes.plot(
            line_x,
            fit["intercept"] + fit["slope"] * line_x,
            color="tab:orange",
            linewidth=1.5,
            label=f"least-squares fit (slope {fit['slope']:.2f})",
        )

    axes.set_xlim(0, 100)
    axes.set_ylim(0, 100)
    axes.set_aspect("equal")
    year = statistics.get("census_year")
    axes.set_xlabel(
        f"women in the occupation, census {year} (%)" if year else "census share of women (%)"
    )
    axes.set_ylabel("women among the largest face per image (%)")
    axes.set_title(_title(statistics), fontsize=10)
    axes.grid(True, linewidth=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure


def _title(statistics: dict) -> str:
    pearson = statistics.get("pearson") or {}
    spearman = statistics.get("spearman") or {}
    n = statistics.get("terms_compared", 0)
    if pearson.get("r") is None:
        return f"{n} terms: too few to correlate"
    title = f"Pearson r = {pearson['r']:.3f}"
    if pearson.get("ci_low") is not None:
        title += f" [{pearson['ci_low']:.3f}, {pearson['ci_high']:.3f}]"
    if spearman.get("rho") is not None:
        title += f", Spearman rho = {spearman['rho']:.3f}"
    return f"{title}, {n} terms"


def plot_scatter(summary: pd.DataFrame, statistics: dict, path: Path) -> None:
    """Write :func:`scatter_figure` to ``path`` as a PNG."""
    figure = scatter_figure(summary, statistics)
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    write_bytes_atomic(Path(path), buffer.getvalue())
