"""Stage 4: the share of women per term, and its agreement with the census.

For each term, every downloaded image whose faces were classified
contributes its largest remaining face, by box area. A face whose crop was
deleted no longer counts. That face counts as a woman's when its female
probability is at least the cut-off. The share of women is reported with a
Wilson score interval (Wilson, JASA 1927), which stays inside 0 to 100 % and
keeps its coverage for small counts.

Across terms, the share in the images is compared with the census share:
Pearson's r with a 95 % confidence interval from Fisher's z transformation
(Fisher, Biometrika 1915), Spearman's rho, and a least-squares line.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from . import __version__
from .fetch import utc_now
from .files import read_csv_rows, write_csv_atomic, write_text_atomic
from .layout import Layout
from .terms import CensusFigure, read_census

logger = logging.getLogger(__name__)

DEFAULT_CENSUS_YEAR = 2018
DEFAULT_CUTOFF = 0.5
CONFIDENCE = 0.95
# Columns of whole counts, which stay integers in the CSV even where a term lacks them.
COUNT_COLUMNS = (
    "results",
    "images",
    "images_with_face",
    "faces",
    "classified_faces",
    "largest_faces",
    "women",
    "men",
)
SUMMARY_COLUMNS = (
    "term",
    "census_year",
    "census_pct_women",
    "census_occupation",
    *COUNT_COLUMNS,
    "pct_women",
    "pct_women_ci_low",
    "pct_women_ci_high",
    "mean_female_probability",
    "difference",
    "note",
)


@dataclass(frozen=True)
class AnalysisSettings:
    """Options of the analysis.

    ``census`` is the census table (``None`` to compare nothing), and
    ``census_year`` the year of its figures to use. A face counts as a
    woman's when its female probability is at least ``cutoff``.
    """

    root: Path
    census: Path | None = None
    census_year: int = DEFAULT_CENSUS_YEAR
    cutoff: float = DEFAULT_CUTOFF

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        if not 0.0 < self.cutoff < 1.0:
            raise ValueError(f"cutoff must be between 0 and 1, exclusive; got {self.cutoff}")


def wilson_interval(
    successes: int, trials: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion, as fractions."""
    if trials == 0:
        return (math.nan, math.nan)
    z = stats.norm.ppf(0.5 + confidence / 2)
    share = successes / trials
    denominator = 1 + z**2 / trials
    centre = (share + z**2 / (2 * trials)) / denominator
    half_width = z * math.sqrt(share * (1 - share) / trials + z**2 / (4 * trials**2)) / denominator
    # The interval always contains the share, but rounding can put the bound
    # of 0 of n a little above 0 (or of n of n a little below 1).
    return (min(share, max(0.0, centre - half_width)), max(share, min(1.0, centre + half_width)))


def largest_faces(dataset: pd.DataFrame) -> pd.DataFrame:
    """Keep, for each image, its largest classified face (ties: the lower face number)."""
    classified = dataset[dataset["status"] == "ok"].copy()
    classified["area"] = classified["height"] * classified["width"]
    classified = classified.sort_values(["image", "area", "face"], ascending=[True, False, True])
    return classified.drop_duplicates("image", keep="first").drop(columns="area")


def share_of_women(probabilities: np.ndarray, cutoff: float = DEFAULT_CUTOFF) -> dict[str, float]:
    """Count faces at or above ``cutoff`` as women's and return the share with its interval.

    Shares are in percent. With no faces every share is NaN.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    trials = len(probabilities)
    women = int((probabilities >= cutoff).sum())
    low, high = wilson_interval(women, trials)
    return {
        "largest_faces": trials,
        "women": women,
        "men": trials - women,
        "pct_women": 100 * women / trials if trials else math.nan,
        "pct_women_ci_low": 100 * low,
        "pct_women_ci_high": 100 * high,
        "mean_female_probability": float(probabilities.mean()) if trials else math.nan,
    }


def summarize_term(term: str, layout: Layout, cutoff: float) -> dict:
    """Return the counts and share of women of one term, from the files of stages 1 to 3."""
    row: dict = {"term": term, "note": ""}
    notes = []

    manifest = layout.manifest_path(term)
    if manifest.exists():
        statuses = [entry["status"] for entry in read_csv_rows(manifest)]
        row["results"] = len(statuses)
        row["images"] = statuses.count("ok")
    else:
        notes.append("not downloaded")

    detections = layout.detections_path(term)
    if detections.exists():
        row["images_with_face"] = sum(
            entry["status"] == "ok" for entry in read_csv_rows(detections)
        )
    else:
        notes.append("faces not detected")

    dataset_path = layout.dataset_path(term)
    if dataset_path.exists():
        dataset = pd.read_csv(dataset_path)
        row["faces"] = len(dataset)
        row["classified_faces"] = int((dataset["status"] == "ok").sum())
        row.update(share_of_women(largest_faces(dataset)["female_probability"].to_numpy(), cutoff))
    else:
        notes.append("faces not classified")
        row.update(share_of_women(np.array([]), cutoff))

    row["note"] = "; ".join(notes)
    return row


def correlate(image_share: np.ndarray, census_share: np.ndarray) -> dict:
    """Compare the image and census shares of women across terms.

    Returns Pearson's r with its p-value and 95 % interval (Fisher's z, which
    needs at least 4 terms), Spearman's rho and p-value, the least-squares
    line of image share on census share, and the mean difference in
    percentage points. Values that the number of terms does not allow are ``None``.
    """
    x = np.asarray(census_share, dtype=float)
    y = np.asarray(image_share, dtype=float)
    n = len(x)
    result: dict = {
        "terms_compared": n,
        "pearson": {
            "r": None,
            "ci_low": None,
            "ci_high": None,
            "p_value": None,
            "interval": "95 %, Fisher z transformation",
        },
        "spearman": {"rho": None, "p_value": None},
        "fit": {"slope": None, "intercept": None},
        "mean_difference_points": float(np.mean(y - x)) if n else None,
    }
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return result

    pearson = stats.pearsonr(x, y)
    r = float(pearson.statistic)
    result["pearson"].update(r=r, p_value=float(pearson.pvalue))
    if n < 4:
        result["pearson"]["interval"] = "none: Fisher's z interval needs at least 4 terms"
    else:
        z = np.arctanh(np.clip(r, -0.9999999, 0.9999999))
        half_width = stats.norm.ppf(0.5 + CONFIDENCE / 2) / math.sqrt(n - 3)
        result["pearson"].update(
            ci_low=float(np.tanh(z - half_width)), ci_high=float(np.tanh(z + half_width))
        )
    spearman = stats.spearmanr(x, y)
    result["spearman"].update(rho=float(spearman.statistic), p_value=float(spearman.pvalue))
    slope, intercept = np.polyfit(x, y, 1)
    result["fit"].update(slope=float(slope), intercept=float(intercept))
    return result


def analyze(terms: list[str], settings: AnalysisSettings) -> tuple[pd.DataFrame, dict]:
    """Summarize every term, compare with the census, and write the results.

    Writes ``Results/summary.csv``, ``Results/statistics.json`` and
    ``Results/scatter.png``, and returns the summary and the statistics.
    """
    from .report import plot_scatter

    layout = Layout(settings.root)
    census: dict[str, CensusFigure] = {}
    if settings.census is not None:
        census = read_census(settings.census, settings.census_year)
    else:
        logger.warning("no census table given; the summary will have no census figures")

    rows = []
    for term in terms:
        row = summarize_term(term, layout, settings.cutoff)
        figure = census.get(term)
        row["census_year"] = settings.census_year if settings.census is not None else None
        row["census_pct_women"] = figure.pct_women if figure else None
        row["census_occupation"] = figure.occupation if figure else None
        if figure is None and settings.census is not None:
            row["note"] = "; ".join(filter(None, [row["note"], "no census row"]))
        elif figure is not None and figure.pct_women is None:
            row["note"] = "; ".join(filter(None, [row["note"], figure.note or "no census figure"]))
        rows.append(row)

    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    summary["difference"] = summary["pct_women"] - summary["census_pct_women"].astype(float)
    compared = summary.dropna(subset=["pct_women", "census_pct_women"])
    statistics = {
        "created_at": utc_now(),
        "imagecensus_version": __version__,
        "census_file": str(settings.census) if settings.census else None,
        "census_year": settings.census_year if settings.census else None,
        "cutoff": settings.cutoff,
        "models": _models_used(terms, layout),
        "terms": len(terms),
        "terms_without_census_figure": summary.loc[
            summary["census_pct_women"].isna(), "term"
        ].tolist(),
        "terms_without_faces": summary.loc[summary["pct_women"].isna(), "term"].tolist(),
        **correlate(compared["pct_women"].to_numpy(), compared["census_pct_women"].to_numpy(float)),
    }

    results = layout.results_dir
    write_csv_atomic(results / "summary.csv", _rounded(summary).to_dict("records"), SUMMARY_COLUMNS)
    write_text_atomic(
        results / "statistics.json", json.dumps(statistics, indent=2, ensure_ascii=False) + "\n"
    )
    plot_scatter(summary, statistics, results / "scatter.png")
    logger.info(
        "wrote %s, %s and %s",
        results / "summary.csv",
        results / "statistics.json",
        results / "scatter.png",
    )
    return summary, statistics


def _models_used(terms: list[str], layout: Layout) -> list[str]:
    models: set[str] = set()
    for term in terms:
        path = layout.dataset_path(term)
        if path.exists():
            models.update(row["model"] for row in read_csv_rows(path) if row["model"])
    return sorted(models)


def _rounded(summary: pd.DataFrame) -> pd.DataFrame:
    rounded = summary.copy()
    for column in ("pct_women", "pct_women_ci_low", "pct_women_ci_high", "difference"):
        rounded[column] = rounded[column].round(2)
    rounded["mean_female_probability"] = rounded["mean_female_probability"].round(4)
    for column in COUNT_COLUMNS:
        rounded[column] = rounded[column].astype("Int64")
    return rounded.astype(object).where(rounded.notna(), None)
