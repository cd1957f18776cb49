"""The whole pipeline, ``python Pipeline.py``, on real photographs from a list of URLs.

The study's four terms (CEO, nurse, pilot, model) are served on 127.0.0.1
with labelled photographs and broken results; see scenario.py.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT, run_script
from PIL import Image
from scenario import EXPECTED_FACES, IDENTITY_GENDER

from imagecensus.analysis import SUMMARY_COLUMNS
from imagecensus.layout import Layout
from imagecensus.stages.download import MANIFEST_COLUMNS

pytestmark = pytest.mark.slow


def _manifest(run, term):
    """Read a manifest as text, as a spreadsheet shows it, with ``rank`` as a number."""
    manifest = pd.read_csv(Layout(run.root).manifest_path(term), dtype=str, keep_default_na=False)
    return manifest.astype({"rank": int})


def _faces(run, term):
    return pd.read_csv(Layout(run.root).faces_path(term))


def _dataset(run, term):
    return pd.read_csv(Layout(run.root).dataset_path(term))


def test_pipeline_exits_with_success(urls_run):
    assert urls_run.returncode == 0, urls_run.output


def test_manifest_has_design_columns(urls_run):
    for term in urls_run.scenario.terms:
        assert tuple(_manifest(urls_run, term).columns) == MANIFEST_COLUMNS


def test_manifest_has_row_per_result(urls_run):
    for term, results in urls_run.scenario.terms.items():
        manifest = _manifest(urls_run, term)
        assert manifest["rank"].tolist() == list(range(1, len(results) + 1)), term


def test_manifest_statuses_match_results(urls_run):
    for term, results in urls_run.scenario.terms.items():
        manifest = _manifest(urls_run, term)
        assert manifest["status"].tolist() == [result.status for result in results], term


def test_failed_results_have_reasons(urls_run):
    for term in urls_run.scenario.terms:
        manifest = _manifest(urls_run, term)
        failed = manifest[~manifest["status"].isin(["ok"])]
        assert (failed["reason"] != "").all(), failed[["rank", "status", "reason"]]


def test_manifest_urls_are_served_urls(urls_run):
    server, scenario = urls_run.server, urls_run.scenario
    for term, results in scenario.terms.items():
        expected = [scenario.url(server, result) for result in results]
        assert _manifest(urls_run, term)["image_url"].tolist() == expected


def test_saved_files_named_by_rank(urls_run):
    for term in urls_run.scenario.terms:
        manifest = _manifest(urls_run, term)
        for row in manifest[manifest["status"] == "ok"].itertuples():
            extension = ".png" if row.format == "png" else ".jpg"
            assert row.file == f"{row.rank:04d}{extension}"


def test_kept_files_equal_served_bytes(urls_run):
    layout = Layout(urls_run.root)
    for term, results in urls_run.scenario.terms.items():
        manifest = _manifest(urls_run, term)
        for result, row in zip(results, manifest.itertuples(), strict=True):
            if row.status != "ok" or row.converted == "True":
                continue
            saved = (layout.images_dir(term) / row.file).read_bytes()
            assert saved == result.body, row.file
            assert row.sha256 == hashlib.sha256(result.body).hexdigest()


def test_webp_result_converted_to_jpeg(urls_run):
    manifest = _manifest(urls_run, "model")
    row = manifest[manifest["image_url"].str.endswith("johnsnow.jpg")].iloc[0]
    assert (row["format"], row["converted"], row["file"]) == ("webp", "True", "0003.jpg")
    with Image.open(Layout(urls_run.root).images_dir("model") / row["file"]) as image:
        assert image.format == "JPEG"


def test_duplicate_points_to_first_copy(urls_run):
    manifest = _manifest(urls_run, "pilot")
    duplicate = manifest[manifest["status"] == "duplicate"].iloc[0]
    assert (duplicate["rank"], duplicate["duplicate_of"], duplicate["file"]) == (3, "1", "")


def test_broken_results_leave_no_file(urls_run):
    layout = Layout(urls_run.root)
    manifest = _manifest(urls_run, "CEO")
    saved = {path.name for path in layout.images_dir("CEO").glob("*.jpg")}
    broken_ranks = manifest.loc[manifest["status"] != "ok", "rank"]
    assert not any(name.startswith(f"{rank:04d}") for rank in broken_ranks for name in saved)


def test_faces_found_on_labelled_photos(urls_run):
    found, expected = {}, {}
    for term, results in urls_run.scenario.terms.items():
        faces = _faces(urls_run, term)
        manifest = _manifest(urls_run, term)
        for result, row in zip(results, manifest.itertuples(), strict=True):
            if row.status == "ok" and result.photo:
                found[result.photo] = int((faces["image"] == row.file).sum())
                expected[result.photo] = EXPECTED_FACES[result.photo]
    assert found == expected


def test_images_table_counts_faces(urls_run):
    layout = Layout(urls_run.root)
    for term in urls_run.scenario.terms:
        images = pd.read_csv(layout.detections_path(term))
        per_image = _faces(urls_run, term).groupby("image").size()
        counted = images.set_index("image")["faces"]
        assert (counted[counted > 0] == per_image.reindex(counted[counted > 0].index)).all()


def test_crops_and_landmarks_written(urls_run):
    layout = Layout(urls_run.root)
    for term in urls_run.scenario.terms:
        crops = layout.crops_dir(term)
        for face in _faces(urls_run, term).itertuples():
            with Image.open(crops / face.crop) as crop:
                assert crop.size == (
                    face.crop_right - face.crop_left,
                    face.crop_bottom - face.crop_top,
                )
            points = np.loadtxt(crops / face.landmarks)
            assert points.shape == (68, 2)


def test_landmarks_lie_near_face_box(urls_run):
    """The 68 points, in crop coordinates, fall inside the face box widened by a quarter."""
    for term in urls_run.scenario.terms:
        crops = Layout(urls_run.root).crops_dir(term)
        for face in _faces(urls_run, term).itertuples():
            points = np.loadtxt(crops / face.landmarks)
            left, top = face.left - face.crop_left, face.top - face.crop_top
            slack_x, slack_y = face.width / 4, face.height / 4
            assert points[:, 0].min() >= left - slack_x, face.crop
            assert points[:, 0].max() <= left + face.width + slack_x, face.crop
            assert points[:, 1].min() >= top - slack_y, face.crop
            assert points[:, 1].max() <= top + face.height + slack_y, face.crop


def test_largest_face_marked_once_per_image(urls_run):
    for term in urls_run.scenario.terms:
        faces = _faces(urls_run, term)
        assert (faces.groupby("image")["largest"].sum() == 1).all()


def test_dataset_starts_with_original_columns(urls_run):
    for term in urls_run.scenario.terms:
        assert list(_dataset(urls_run, term).columns[:4]) == [
            "file",
            "female_probability",
            "height",
            "width",
        ]


def test_dataset_has_row_per_face(urls_run):
    for term in urls_run.scenario.terms:
        assert _dataset(urls_run, term)["file"].tolist() == _faces(urls_run, term)["crop"].tolist()


def test_probabilities_are_probabilities(urls_run):
    for term in urls_run.scenario.terms:
        probabilities = _dataset(urls_run, term)["female_probability"]
        assert probabilities.between(0, 1).all(), term


def test_identity_labelled_faces_gender(urls_run):
    predicted, expected = {}, {}
    for term, results in urls_run.scenario.terms.items():
        manifest = _manifest(urls_run, term)
        dataset = _dataset(urls_run, term)
        for result, row in zip(results, manifest.itertuples(), strict=True):
            if row.status != "ok" or result.photo not in IDENTITY_GENDER:
                continue
            largest = dataset[(dataset["image"] == row.file) & dataset["largest"]].iloc[0]
            predicted[result.photo] = "female" if largest["female_probability"] >= 0.5 else "male"
            expected[result.photo] = IDENTITY_GENDER[result.photo]
    assert predicted == expected


def test_summary_has_row_per_term(urls_run):
    summary = pd.read_csv(urls_run.root / "Results" / "summary.csv")
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    assert summary["term"].tolist() == list(urls_run.scenario.terms)


def test_summary_counts_match_tables(urls_run):
    summary = pd.read_csv(urls_run.root / "Results" / "summary.csv").set_index("term")
    for term in urls_run.scenario.terms:
        manifest = _manifest(urls_run, term)
        dataset = _dataset(urls_run, term)
        largest = dataset[dataset["largest"]]
        women = int((largest["female_probability"] >= 0.5).sum())
        row = summary.loc[term]
        assert row["results"] == len(manifest), term
        assert row["images"] == (manifest["status"] == "ok").sum(), term
        assert row["faces"] == len(dataset), term
        assert row["largest_faces"] == len(largest), term
        assert row["women"] == women, term
        assert row["pct_women"] == pytest.approx(100 * women / len(largest), abs=0.01), term


def test_summary_joins_census_2018(urls_run):
    summary = pd.read_csv(urls_run.root / "Results" / "summary.csv").set_index("term")
    with open(PROJECT / "Professions.csv", encoding="utf-8") as handle:
        census = {
            row["term"]: float(row["census_pct_women"])
            for row in csv.DictReader(handle)
            if row["census_year"] == "2018"
        }
    for term in urls_run.scenario.terms:
        assert summary.loc[term, "census_pct_women"] == census[term], term
        assert summary.loc[term, "census_year"] == 2018


def test_interval_brackets_share(urls_run):
    summary = pd.read_csv(urls_run.root / "Results" / "summary.csv")
    assert (summary["pct_women_ci_low"] <= summary["pct_women"]).all()
    assert (summary["pct_women"] <= summary["pct_women_ci_high"]).all()


def test_statistics_match_summary(urls_run):
    summary = pd.read_csv(urls_run.root / "Results" / "summary.csv")
    statistics = json.loads((urls_run.root / "Results" / "statistics.json").read_text())
    r = np.corrcoef(summary["census_pct_women"], summary["pct_women"])[0, 1]
    assert statistics["terms_compared"] == 4
    assert statistics["pearson"]["r"] == pytest.approx(r)
    assert statistics["pearson"]["ci_low"] < r < statistics["pearson"]["ci_high"]
    assert not math.isnan(statistics["spearman"]["rho"])
    assert statistics["models"] == ["cydral"]


def test_scatter_plot_is_png(urls_run):
    with Image.open(urls_run.root / "Results" / "scatter.png") as plot:
        assert plot.format == "PNG"
        assert min(plot.size) >= 600


def test_run_recorded_with_versions(urls_run):
    lines = (urls_run.root / "Results" / "runs.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    assert record["command"] == "run"
    assert record["versions"]["dlib-bin"] != "not installed"


def test_second_run_changes_nothing(urls_run):
    layout = Layout(urls_run.root)
    watched = [layout.manifest_path("CEO"), layout.faces_path("CEO"), layout.dataset_path("CEO")]
    before = [path.stat().st_mtime_ns for path in watched]
    requests_before = len(urls_run.server.requests)

    returncode, output, _ = run_script(
        "Pipeline.py",
        urls_run.terms_file,
        "--engine",
        "urls:urls.csv",
        "--root",
        urls_run.root,
        "--workers",
        "2",
        "--census",
        PROJECT / "Professions.csv",
        cwd=urls_run.terms_file.parent,
    )

    assert returncode == 0, output
    assert [path.stat().st_mtime_ns for path in watched] == before
    assert len(urls_run.server.requests) == requests_before
    assert "skipping download" in output
