"""The default gender model: accuracy on labelled portraits, alignment, batching."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scenario import PHOTOS

from imagecensus.faces import DetectionSettings, FaceDetector, crop_box
from imagecensus.gender import FaceImage, make_classifier
from imagecensus.images import load_rgb
from imagecensus.terms import InputError


@pytest.fixture(scope="module")
def classifier():
    return make_classifier("cydral")


@pytest.fixture(scope="module")
def portrait_accuracy(portraits_dir, tmp_path_factory):
    """Figures of ``imagecensus evaluate`` on the 204 labelled portraits, each taken whole."""
    output = tmp_path_factory.mktemp("evaluate") / "portraits.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "imagecensus",
            "evaluate",
            "--images",
            str(portraits_dir),
            "--labels",
            str(portraits_dir / "labels.csv"),
            "--faces",
            "whole",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    print("\n" + completed.stdout)
    return json.loads(output.read_text())


def test_portraits_all_evaluated(portrait_accuracy):
    assert portrait_accuracy["evaluated"] == 204


def test_portrait_accuracy_at_least_93_percent(portrait_accuracy):
    assert portrait_accuracy["accuracy"] >= 0.93


def test_portrait_recall_of_women(portrait_accuracy):
    assert portrait_accuracy["recall_female"] >= 0.90


def test_portrait_recall_of_men(portrait_accuracy):
    assert portrait_accuracy["recall_male"] >= 0.90


def test_confusion_adds_up(portrait_accuracy):
    confusion = portrait_accuracy["confusion"]
    assert sum(confusion["female"].values()) == 102
    assert sum(confusion["male"].values()) == 102


def test_probabilities_between_zero_and_one(classifier, portraits_dir):
    faces = [FaceImage.whole(load_rgb(path)) for path in sorted(portraits_dir.glob("*.jpg"))[:20]]
    probabilities = classifier.female_probability(faces)
    assert probabilities.shape == (20,)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_batch_equals_one_by_one(classifier, portraits_dir):
    faces = [FaceImage.whole(load_rgb(path)) for path in sorted(portraits_dir.glob("*.jpg"))[:70]]
    together = classifier.female_probability(faces)
    alone = np.array([classifier.female_probability([face])[0] for face in faces])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-6)


def test_empty_batch_returns_empty(classifier):
    assert classifier.female_probability([]).shape == (0,)


def test_unknown_model_rejected():
    with pytest.raises(InputError, match="unknown gender model 'gendernet'"):
        make_classifier("gendernet")


def test_crop_holds_whole_aligned_chip(classifier, photos_dir):
    """A face classified from its crop gets the chip it would get from the whole photograph.

    This is true whenever the crop margins were not cut by the image border,
    which is what the default margins are sized for.
    """
    detector = FaceDetector(DetectionSettings())
    settings = DetectionSettings()
    compared = 0
    for name in ("obama", "biden", "rose_leslie", "two_people", "three_men", "miranda"):
        image = load_rgb(photos_dir / PHOTOS[name])
        height, width = image.shape[:2]
        for face in detector.detect(image):
            left, top, right, bottom = crop_box(face.box, width, height, settings)
            box_width, box_height = face.width, face.height
            unclipped = (
                left == face.box[0] - round(0.3 * box_width)
                and top == face.box[1] - round(0.5 * box_height)
                and right == face.box[2] + round(0.3 * box_width)
                and bottom == face.box[3] + round(0.3 * box_height)
            )
            if not unclipped:
                continue
            crop = np.ascontiguousarray(image[top:bottom, left:right])
            in_crop = (face.box[0] - left, face.box[1] - top, face.box[2] - left, face.box[3] - top)
            from_crop = classifier.aligned_chip(FaceImage(crop, in_crop))
            from_photo = classifier.aligned_chip(FaceImage(image, face.box))
            np.testing.assert_array_equal(from_crop, from_photo)
            compared += 1
    assert compared >= 6
