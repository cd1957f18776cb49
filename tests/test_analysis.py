"""Stage 4, imagecensus/analysis.py: shares of women, intervals, correlation, result files.

Reference values come from independent computations: the Wilson interval as
the roots of its defining quadratic, and the correlations and the Fisher z
interval from scipy.stats.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from imagecensus.analysis import (
    SUMMARY_COLUMNS,
    AnalysisSettings,
    analyze,
    correlate,
    largest_faces,
    share_of_women,
    wilson_interval,
)
from imagecensus.files import write_csv_atomic
from imagecensus.layout import Layout
from imagecensus.stages.classify import DATASET_COLUMNS
from imagecensus.stages.crop import IMAGES_COLUMNS
from imagecensus.stages.download import MANIFEST_COLUMNS
from imagecensus.terms import CENSUS_COLUMNS

Z_95 = stats.norm.ppf(0.975)


def wilson_by_roots(successes: int, trials: int) -> tuple[float, float]:
    """Solve (share - p)^2 = z^2 p (1 - p) / n for p, the definition of Wilson's interval."""
    share = successes / trials
    quadratic = [1 + Z_95**2 / trials, -(2 * share + Z_95**2 / trials), share**2]
    low, high = np.sort(np.roots(quadratic).real)
    return float(low), float(high)


def face(image: str, number: int, size: int, probability: float | None, status: str = "ok"):
    """Return one row of Datasets/<term>.csv for a square face box of ``size`` pixels."""
    rank = int(image.split(".")[0])
    return {
        "file": f"{image.split('.')[0]}_{number}.jpg",
        "female_probability": probability,
        "height": size,
        "width": size,
        "image": image,
        "rank": rank,
        "face": number,
        "left": 10,
        "top": 10,
        "right": 10 + size,
        "bottom": 10 + size,
        "largest": False,
        "score": 1.0,
        "model": "cydral",
        "status": status,
        "reason": "" if status == "ok" else f"{status} for the test",
    }


def dataset(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(DATASET_COLUMNS))


# wilson_interval


@pytest.mark.parametrize(("successes", "trials"), [(0, 10), (5, 10), (10, 10), (1, 29), (81, 263)])
def test_wilson_matches_quadratic_roots(successes, trials):
    low, high = wilson_interval(successes, trials)
    expected_low, expected_high = wilson_by_roots(successes, trials)
    assert low == pytest.approx(expected_low, abs=1e-9)
    assert high == pytest.approx(expected_high, abs=1e-9)


def test_wilson_none_of_ten_closed_form():
    # With no successes the lower bound is 0 and the upper bound is z^2 / (n + z^2).
    assert wilson_interval(0, 10) == (0.0, pytest.approx(Z_95**2 / (10 + Z_95**2)))


def test_wilson_all_of_ten_closed_form():
    # With only successes the lower bound is n / (n + z^2) and the upper bound is 1.
    assert wilson_interval(10, 10) == (pytest.approx(10 / (10 + Z_95**2)), 1.0)


def test_wilson_half_is_symmetric():
    low, high = wilson_interval(5, 10)
    assert low + high == pytest.approx(1.0)


def test_wilson_bounds_contain_share():
    for trials in range(1, 60):
        for successes in range(trials + 1):
            low, high = wilson_interval(successes, trials)
            assert 0.0 <= low <= successes / trials <= high <= 1.0, (successes, trials)


def test_wilson_zero_trials_is_nan():
    low, high = wilson_interval(0, 0)
    assert math.isnan(low)
    assert math.isnan(high)


def test_wilson_wider_at_higher_confidence():
    low_95, high_95 = wilson_interval(3, 12)
    low_99, high_99 = wilson_interval(3, 12, confidence=0.99)
    assert low_99 < low_95
    assert high_99 > high_95


# share_of_women


def test_share_counts_cutoff_as_woman():
    share = share_of_women(np.array([0.5, 0.49, 0.8]), cutoff=0.5)
    assert share["women"] == 2
    assert share["men"] == 1


def test_share_counts_raised_cutoff_as_woman():
    share = share_of_women(np.array([0.7, 0.69, 0.5]), cutoff=0.7)
    assert share["women"] == 1


def test_share_percent_and_interval():
    share = share_of_women(np.array([0.9, 0.8, 0.1]))
    low, high = wilson_interval(2, 3)
    assert share["largest_faces"] == 3
    assert share["pct_women"] == pytest.approx(100 * 2 / 3)
    assert share["pct_women_ci_low"] == pytest.approx(100 * low)
    assert share["pct_women_ci_high"] == pytest.approx(100 * high)
    assert share["mean_female_probability"] == pytest.approx(0.6)


def test_share_zero_faces_is_nan():
    share = share_of_women(np.array([]))
    assert share["largest_faces"] == 0
    assert share["women"] == 0
    assert share["men"] == 0
    for key in ("pct_women", "pct_women_ci_low", "pct_women_ci_high", "mean_female_probability"):
        assert math.isnan(share[key]), key


# largest_faces


def test_largest_keeps_one_face_per_image():
    faces = dataset(
        face("0001.jpg", 1, 40, 0.1),
        face("0001.jpg", 2, 80, 0.9),
        face("0001.jpg", 3, 60, 0.2),
        face("0002.jpg", 1, 50, 0.3),
    )
    kept = largest_faces(faces)
    assert kept["image"].tolist() == ["0001.jpg", "0002.jpg"]
    assert kept["face"].tolist() == [2, 1]


def test_largest_compares_box_area():
    tall = face("0001.jpg", 1, 0, 0.1) | {"height": 100, "width": 20}
    square = face("0001.jpg", 2, 0, 0.9) | {"height": 50, "width": 50}
    kept = largest_faces(dataset(tall, square))
    assert kept["face"].tolist() == [2]


def test_largest_skips_deleted_crop():
    faces = dataset(
        face("0001.jpg", 1, 120, None, status="missing_crop"),
        face("0001.jpg", 2, 90, 0.8),
        face("0001.jpg", 3, 30, 0.1),
    )
    kept = largest_faces(faces)
    assert kept["face"].tolist() == [2]


def test_largest_drops_image_without_ok_face():
    faces = dataset(
        face("0001.jpg", 1, 120, None, status="missing_crop"),
        face("0001.jpg", 2, 60, None, status="unreadable"),
        face("0002.jpg", 1, 40, 0.4),
    )
    kept = largest_faces(faces)
    assert kept["image"].tolist() == ["0002.jpg"]


def test_largest_tie_keeps_lower_face():
    faces = dataset(face("0001.jpg", 2, 70, 0.9), face("0001.jpg", 1, 70, 0.1))
    kept = largest_faces(faces)
    assert kept["face"].tolist() == [1]


def test_largest_keeps_dataset_columns():
    kept = largest_faces(dataset(face("0001.jpg", 1, 70, 0.9)))
    assert tuple(kept.columns) == DATASET_COLUMNS


# correlate


@pytest.fixture
def shares() -> tuple[np.ndarray, np.ndarray]:
    """Census and image shares of 12 terms, related with noise."""
    generator = np.random.default_rng(20190101)
    census = generator.uniform(5, 95, size=12)
    image = np.clip(0.7 * census + 10 + generator.normal(0, 12, size=12), 0, 100)
    return census, image


def test_correlate_matches_scipy_pearson(shares):
    census, image = shares
    result = correlate(image, census)
    expected = stats.pearsonr(census, image)
    assert result["pearson"]["r"] == pytest.approx(expected.statistic)
    assert result["pearson"]["p_value"] == pytest.approx(expected.pvalue)


def test_correlate_matches_scipy_spearman(shares):
    census, image = shares
    result = correlate(image, census)
    expected = stats.spearmanr(census, image)
    assert result["spearman"]["rho"] == pytest.approx(expected.statistic)
    assert result["spearman"]["p_value"] == pytest.approx(expected.pvalue)


def test_correlate_interval_matches_fisher_z(shares):
    census, image = shares
    result = correlate(image, census)
    # scipy computes the interval of Pearson's r with Fisher's z transformation.
    expected = stats.pearsonr(census, image).confidence_interval(confidence_level=0.95)
    assert result["pearson"]["ci_low"] == pytest.approx(expected.low)
    assert result["pearson"]["ci_high"] == pytest.approx(expected.high)


def test_correlate_interval_contains_r(shares):
    census, image = shares
    pearson = correlate(image, census)["pearson"]
    assert pearson["ci_low"] < pearson["r"] < pearson["ci_high"]


def test_correlate_fit_matches_linregress(shares):
    census, image = shares
    fit = correlate(image, census)["fit"]
    expected = stats.linregress(census, image)
    assert fit["slope"] == pytest.approx(expected.slope)
    assert fit["intercept"] == pytest.approx(expected.intercept)


def test_correlate_mean_difference(shares):
    census, image = shares
    result = correlate(image, census)
    assert result["terms_compared"] == 12
    assert result["mean_difference_points"] == pytest.approx(float(np.mean(image - census)))


def test_correlate_two_terms_is_none():
    result = correlate(np.array([30.0, 60.0]), np.array([20.0, 70.0]))
    assert result["terms_compared"] == 2
    assert result["pearson"]["r"] is None
    assert result["pearson"]["ci_low"] is None
    assert result["spearman"]["rho"] is None
    assert result["fit"]["slope"] is None


def test_correlate_three_terms_has_no_interval():
    result = correlate(np.array([30.0, 60.0, 50.0]), np.array([20.0, 70.0, 40.0]))
    assert result["pearson"]["r"] is not None
    assert result["pearson"]["ci_low"] is None
    assert result["pearson"]["ci_high"] is None


def test_correlate_constant_census_is_none():
    result = correlate(np.array([30.0, 60.0, 50.0, 10.0]), np.array([40.0] * 4))
    assert result["pearson"]["r"] is None


def test_correlate_no_terms_has_no_difference():
    result = correlate(np.array([]), np.array([]))
    assert result["mean_difference_points"] is None


# analyze


def write_term(
    root: Path, term: str, downloads: list[str], detections: list[str], faces: list[dict]
) -> None:
    """Write the files stages 1 to 3 leave for ``term``: result statuses, image statuses, faces."""
    layout = Layout(root)
    write_csv_atomic(
        layout.manifest_path(term),
        [
            {"rank": rank, "engine": "urls", "query": term, "status": status}
            for rank, status in enumerate(downloads, start=1)
        ],
        MANIFEST_COLUMNS,
    )
    write_csv_atomic(
        layout.detections_path(term),
        [
            {"image": f"{rank:04d}.jpg", "rank": rank, "status": status}
            for rank, status in enumerate(detections, start=1)
        ],
        IMAGES_COLUMNS,
    )
    write_csv_atomic(layout.dataset_path(term), faces, DATASET_COLUMNS)


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory) -> tuple[Path, pd.DataFrame, dict]:
    """A hand-made results folder of five terms, analyzed against a small census table.

    - nurse: 4 results, 3 downloaded, 2 with a face. Of its 4 faces, the
      largest of image 2 was deleted by hand, so its second face counts.
      Both counted faces are women's.
    - pilot: 3 images with one face each, at 0.2, 0.5 (the cut-off) and 0.1.
    - CEO: 2 images, at 0.05 and 0.95.
    - model: one face, but the census printed a dash for its figure.
    - janitor: no image had a face, so its faces table is empty.
    """
    root = tmp_path_factory.mktemp("analysis") / "study"
    write_term(
        root,
        "nurse",
        ["ok", "ok", "http_404", "ok"],
        ["ok", "ok", "no_face"],
        [
            face("0001.jpg", 1, 100, 0.9),
            face("0001.jpg", 2, 50, 0.1),
            face("0002.jpg", 1, 120, None, status="missing_crop"),
            face("0002.jpg", 2, 60, 0.7),
        ],
    )
    write_term(
        root,
        "pilot",
        ["ok", "ok", "ok"],
        ["ok", "ok", "ok"],
        [face("0001.jpg", 1, 80, 0.2), face("0002.jpg", 1, 80, 0.5), face("0003.jpg", 1, 80, 0.1)],
    )
    write_term(
        root,
        "CEO",
        ["ok", "ok"],
        ["ok", "ok"],
        [face("0001.jpg", 1, 80, 0.05), face("0002.jpg", 1, 80, 0.95)],
    )
    write_term(root, "model", ["ok"], ["ok"], [face("0001.jpg", 1, 80, 0.8)])
    write_term(root, "janitor", ["ok", "ok"], ["no_face", "no_face"], [])

    census = root.parent / "census.csv"
    with open(census, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CENSUS_COLUMNS)
        writer.writerow(["nurse", 2018, 88.9, "Registered nurses", "BLS", ""])
        writer.writerow(["nurse", 2025, 87.3, "Registered nurses", "BLS", ""])
        writer.writerow(["pilot", 2018, 7.5, "Aircraft pilots and flight engineers", "BLS", ""])
        writer.writerow(["CEO", 2018, 27.6, "Chief executives", "BLS", ""])
        writer.writerow(["model", 2018, "", "Models", "BLS", "BLS printed a dash"])
        writer.writerow(["janitor", 2018, 37.2, "Janitors and building cleaners", "BLS", ""])

    settings = AnalysisSettings(root=root, census=census, census_year=2018)
    summary, statistics = analyze(["nurse", "pilot", "CEO", "model", "janitor"], settings)
    return root, summary, statistics


def summary_rows(root: Path) -> dict[str, dict[str, str]]:
    """Read Results/summary.csv as text, keyed by term."""
    with open(Layout(root).results_dir / "summary.csv", encoding="utf-8", newline="") as handle:
        return {row["term"]: row for row in csv.DictReader(handle)}


def test_analyze_summary_has_columns(analyzed):
    root, _, _ = analyzed
    with open(Layout(root).results_dir / "summary.csv", encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == SUMMARY_COLUMNS


def test_analyze_summary_keeps_term_order(analyzed):
    root, _, _ = analyzed
    assert list(summary_rows(root)) == ["nurse", "pilot", "CEO", "model", "janitor"]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("results", "4"),
        ("images", "3"),
        ("images_with_face", "2"),
        ("faces", "4"),
        ("classified_faces", "3"),
        ("largest_faces", "2"),
        ("women", "2"),
        ("men", "0"),
        ("pct_women", "100.0"),
        ("census_pct_women", "88.9"),
        ("census_year", "2018"),
    ],
)
def test_analyze_nurse_counts(analyzed, column, expected):
    root, _, _ = analyzed
    assert summary_rows(root)["nurse"][column] == expected


def test_analyze_counts_cutoff_as_woman(analyzed):
    root, _, _ = analyzed
    pilot = summary_rows(root)["pilot"]
    assert (pilot["women"], pilot["men"]) == ("1", "2")


def test_analyze_interval_rounded_percent(analyzed):
    root, _, _ = analyzed
    low, high = wilson_interval(1, 3)
    pilot = summary_rows(root)["pilot"]
    assert float(pilot["pct_women_ci_low"]) == round(100 * low, 2)
    assert float(pilot["pct_women_ci_high"]) == round(100 * high, 2)


def test_analyze_difference_in_points(analyzed):
    root, _, _ = analyzed
    pilot = summary_rows(root)["pilot"]
    assert float(pilot["difference"]) == round(100 / 3 - 7.5, 2)


def test_analyze_missing_census_stays_empty(analyzed):
    root, _, _ = analyzed
    model = summary_rows(root)["model"]
    assert model["census_pct_women"] == ""
    assert model["difference"] == ""


def test_analyze_missing_census_note(analyzed):
    root, _, _ = analyzed
    assert summary_rows(root)["model"]["note"] == "BLS printed a dash"


def test_analyze_term_without_faces_is_empty(analyzed):
    root, _, _ = analyzed
    janitor = summary_rows(root)["janitor"]
    assert janitor["faces"] == "0"
    assert janitor["largest_faces"] == "0"
    assert janitor["pct_women"] == ""


def test_analyze_lists_missing_census(analyzed):
    root, _, _ = analyzed
    statistics = json.loads((Layout(root).results_dir / "statistics.json").read_text())
    assert statistics["terms_without_census_figure"] == ["model"]


def test_analyze_lists_terms_without_faces(analyzed):
    root, _, _ = analyzed
    statistics = json.loads((Layout(root).results_dir / "statistics.json").read_text())
    assert statistics["terms_without_faces"] == ["janitor"]


def test_analyze_correlates_compared_terms(analyzed):
    root, _, _ = analyzed
    statistics = json.loads((Layout(root).results_dir / "statistics.json").read_text())
    expected = stats.pearsonr([88.9, 7.5, 27.6], [100.0, 100 / 3, 50.0])
    assert statistics["terms_compared"] == 3
    assert statistics["pearson"]["r"] == pytest.approx(expected.statistic)
    assert statistics["pearson"]["ci_low"] is None


def test_analyze_records_cutoff_and_model(analyzed):
    root, _, _ = analyzed
    statistics = json.loads((Layout(root).results_dir / "statistics.json").read_text())
    assert statistics["cutoff"] == 0.5
    assert statistics["models"] == ["cydral"]


def test_analyze_returns_missing_census_as_nan(analyzed):
    _, summary, _ = analyzed
    assert summary.set_index("term")["census_pct_women"].isna().tolist() == [
        False,
        False,
        False,
        True,
        False,
    ]


def test_analyze_writes_scatter_png(analyzed):
    root, _, _ = analyzed
    path = Layout(root).results_dir / "scatter.png"
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(path) as image:
        assert image.format == "PNG"
