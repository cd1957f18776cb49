"""Stages 2 and 3 on images from a folder: failures stay per image and per term, runs resume."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import PROJECT, run_script
from scenario import PHOTOS

from imagecensus.analysis import largest_faces
from imagecensus.layout import Layout
from imagecensus.parallel import WorkerCrashed, run_items
from imagecensus.stages.classify import ClassifySettings, classify_term
from imagecensus.stages.crop import CropSettings, crop_term


def _downloaded_study(photos_dir: Path, folder: Path, terms: dict[str, list[str]]) -> Path:
    """Run DownloadImages.py with the folder engine over copies of labelled photographs."""
    source = folder / "source"
    for term, names in terms.items():
        (source / term).mkdir(parents=True)
        for rank, name in enumerate(names, start=1):
            file = photos_dir / PHOTOS[name]
            shutil.copy(file, source / term / f"{rank}{file.suffix}")
    terms_file = folder / "terms.txt"
    terms_file.write_text("\n".join(terms) + "\n", encoding="utf-8")
    returncode, output, _ = run_script(
        "DownloadImages.py",
        terms_file,
        "--engine",
        f"folder:{source}",
        "--root",
        folder,
        cwd=folder,
    )
    assert returncode == 0, output
    return terms_file


def test_unreadable_image_does_not_stop_term(photos_dir, tmp_path):
    _downloaded_study(photos_dir, tmp_path, {"lawyer": ["obama", "biden", "rose_leslie"]})
    layout = Layout(tmp_path)
    (layout.images_dir("lawyer") / "0002.jpg").write_bytes(b"\xff\xd8\xff\xe0 damaged on disk")

    report = crop_term("lawyer", CropSettings(root=tmp_path))

    images = pd.read_csv(layout.detections_path("lawyer")).set_index("image")
    assert report.status == "done"
    assert images.loc["0002.jpg", "status"] == "unreadable"
    assert images.loc["0002.jpg", "reason"].startswith("OSError")
    assert images.loc["0001.jpg", "faces"] == 1
    assert images.loc["0003.jpg", "faces"] == 1


def test_missing_term_does_not_stop_run(photos_dir, tmp_path):
    terms_file = _downloaded_study(photos_dir, tmp_path, {"lawyer": ["obama"]})
    terms_file.write_text("lawyer\njudge\n", encoding="utf-8")

    returncode, output, _ = run_script("CropFaces.py", terms_file, "--root", tmp_path, cwd=tmp_path)

    assert returncode == 1
    assert "judge" in output
    assert "run the download stage first" in output
    assert Layout(tmp_path).faces_path("lawyer").exists()


def test_deleted_crop_is_left_out(photos_dir, tmp_path):
    """A researcher deletes a false detection's crop; the image's next largest face counts instead."""
    _downloaded_study(photos_dir, tmp_path, {"actor": ["couple"]})
    layout = Layout(tmp_path)
    crop_term("actor", CropSettings(root=tmp_path))
    faces = pd.read_csv(layout.faces_path("actor"))
    largest = faces[faces["largest"]].iloc[0]
    (layout.crops_dir("actor") / largest["crop"]).unlink()

    classify_term("actor", ClassifySettings(root=tmp_path))

    dataset = pd.read_csv(layout.dataset_path("actor"))
    statuses = dict(zip(dataset["file"], dataset["status"], strict=True))
    assert statuses[largest["crop"]] == "missing_crop"
    remaining = largest_faces(dataset)
    next_largest = faces[~faces["largest"]].iloc[0]["crop"]
    assert remaining["file"].tolist() == [next_largest]
    flags = dict(zip(dataset["file"], dataset["largest"], strict=True))
    assert flags == {largest["crop"]: False, next_largest: True}


def test_classify_skips_up_to_date_dataset(photos_dir, tmp_path):
    _downloaded_study(photos_dir, tmp_path, {"actor": ["miranda"]})
    crop_term("actor", CropSettings(root=tmp_path))
    first = classify_term("actor", ClassifySettings(root=tmp_path))
    second = classify_term("actor", ClassifySettings(root=tmp_path))
    assert (first.status, second.status) == ("done", "skipped")


def test_crop_redone_after_new_download(photos_dir, tmp_path):
    terms_file = _downloaded_study(photos_dir, tmp_path, {"actor": ["miranda"]})
    layout = Layout(tmp_path)
    crop_term("actor", CropSettings(root=tmp_path))
    source = tmp_path / "source" / "actor"
    shutil.copy(photos_dir / PHOTOS["two_people"], source / "2.jpg")
    returncode, output, _ = run_script(
        "DownloadImages.py",
        terms_file,
        "--engine",
        f"folder:{tmp_path / 'source'}",
        "--root",
        tmp_path,
        "--force",
        cwd=tmp_path,
    )
    assert returncode == 0, output

    report = crop_term("actor", CropSettings(root=tmp_path))

    assert report.status == "done"
    assert len(pd.read_csv(layout.faces_path("actor"))) == 3


def test_interrupted_crop_resumes(photos_dir, tmp_path):
    """A crop run killed part-way finishes on the next run with the same table as an uninterrupted run."""
    names = [
        "restaurant",
        "elvis",
        "three_men",
        "obama_and_biden",
        "couple",
        "img1",
        "keynote",
        "company_event",
        "two_women",
        "biden",
    ]
    terms_file = _downloaded_study(photos_dir, tmp_path, {"waiter": names})
    layout = Layout(tmp_path)
    journal = layout.crops_dir("waiter") / "faces.partial.jsonl"

    process = subprocess.Popen(
        [
            sys.executable,
            str(PROJECT / "CropFaces.py"),
            str(terms_file),
            "--root",
            str(tmp_path),
            "--workers",
            "1",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        journal.exists() and journal.read_text().count("\n") >= 2
    ):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done_before = journal.read_text().count("\n")
    assert not layout.faces_path("waiter").exists()
    assert 2 <= done_before < len(names)

    returncode, output, _ = run_script("CropFaces.py", terms_file, "--root", tmp_path, cwd=tmp_path)

    assert returncode == 0, output
    assert f"{done_before} items already done" in output
    resumed = pd.read_csv(layout.faces_path("waiter"))
    fresh_root = tmp_path / "fresh"
    shutil.copytree(
        layout.images_root,
        Layout(fresh_root).images_root,
        ignore=shutil.ignore_patterns("Cropped_faces"),
    )
    crop_term("waiter", CropSettings(root=fresh_root))
    fresh = pd.read_csv(Layout(fresh_root).faces_path("waiter"))
    pd.testing.assert_frame_equal(resumed, fresh)


def _exit_on_three(number: int) -> int:
    if number == 3:
        os._exit(1)
    return number * 10


def test_crashed_worker_fails_one_item():
    outcomes = {
        item: (result, error) for item, result, error in run_items(_exit_on_three, range(6), 2)
    }
    assert {item: result for item, (result, _) in outcomes.items() if item != 3} == {
        0: 0,
        1: 10,
        2: 20,
        4: 40,
        5: 50,
    }
    assert isinstance(outcomes[3][1], WorkerCrashed)


def _raise_on_two(number: int) -> int:
    if number == 2:
        raise ValueError("bad item")
    return number


@pytest.mark.parametrize("workers", [1, 2])
def test_item_error_reported_not_raised(workers):
    outcomes = {item: error for item, _, error in run_items(_raise_on_two, range(4), workers)}
    assert isinstance(outcomes[2], ValueError)
    assert [outcomes[item] for item in (0, 1, 3)] == [None, None, None]
