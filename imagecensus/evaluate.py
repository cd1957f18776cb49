"""Measure a gender model's accuracy on labelled face photographs.

The labels file is a CSV with the columns ``file`` and ``gender``
(``female`` or ``male``); other columns are ignored. Each image is either
taken whole as the face (for tight face crops, ``faces="whole"``), or its
largest face is found with the same detector as stage 2
(``faces="detect"``). An image in which no face is found is counted apart
and left out of the accuracy.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .faces import DetectionSettings, FaceDetector
from .files import read_csv_rows
from .gender import DEFAULT_MODEL, FaceImage, make_classifier
from .images import load_rgb
from .terms import InputError

logger = logging.getLogger(__name__)

LABELS = ("female", "male")
FACE_MODES = ("whole", "detect")


def read_labels(path: Path) -> tuple[list[tuple[str, str]], int]:
    """Read ``(file, gender)`` pairs from a labels CSV.

    Returns the pairs labelled ``female`` or ``male``, and the number of
    rows with another label (such as ``mixed``), which are left out.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"labels file not found: {path}; pass a CSV with columns file,gender")
    rows = read_csv_rows(path)
    if rows and not {"file", "gender"} <= set(rows[0]):
        raise InputError(f"labels file {path} must have the columns file and gender")
    pairs = [(row["file"], row["gender"].strip().lower()) for row in rows]
    labelled = [(file, gender) for file, gender in pairs if gender in LABELS]
    return labelled, len(pairs) - len(labelled)


def evaluate_gender(
    images_dir: Path,
    labels_path: Path,
    model: str = DEFAULT_MODEL,
    faces: str = "whole",
    cutoff: float = 0.5,
    detection: DetectionSettings | None = None,
) -> dict:
    """Classify every labelled image and return accuracy, recall per gender and counts.

    Returns
    -------
    dict
        ``images`` (labelled female or male), ``other_labels`` (rows with
        another label, left out), ``no_face`` (images in which no face was found),
        ``evaluated``, ``accuracy``, ``recall_female``, ``recall_male``,
        ``confusion`` (``{true label: {predicted label: count}}``) and
        ``predictions``, one ``(file, label, female_probability)`` per image.
    """
    if faces not in FACE_MODES:
        raise InputError(f"unknown face mode {faces!r}; choose one of {', '.join(FACE_MODES)}")
    labels, other_labels = read_labels(labels_path)
    missing = [file for file, _ in labels if not (Path(images_dir) / file).is_file()]
    if missing:
        raise InputError(
            f"{len(missing)} of the {len(labels)} images that {labels_path} labels are not in "
            f"{images_dir}, for example {missing[0]}; pass the folder that holds them"
        )
    classifier = make_classifier(model)
    detector = FaceDetector(detection) if faces == "detect" else None

    face_images, evaluated, no_face = [], [], []
    for file, label in labels:
        pixels = load_rgb(Path(images_dir) / file)
        if detector is None:
            face_images.append(FaceImage.whole(pixels))
            evaluated.append((file, label))
            continue
        found = detector.detect(pixels)
        if not found:
            no_face.append(file)
            continue
        face_images.append(FaceImage(pixels, found[0].box))
        evaluated.append((file, label))

    probabilities = classifier.female_probability(face_images)
    truth = np.array([label for _, label in evaluated])
    predicted = np.where(probabilities >= cutoff, "female", "male")
    confusion = {
        actual: {guess: int(((truth == actual) & (predicted == guess)).sum()) for guess in LABELS}
        for actual in LABELS
    }
    return {
        "model": model,
        "faces": faces,
        "cutoff": cutoff,
        "images": len(labels),
        "other_labels": other_labels,
        "no_face": len(no_face),
        "evaluated": len(evaluated),
        "accuracy": float((truth == predicted).mean()) if len(evaluated) else None,
        "recall_female": _recall(confusion, "female"),
        "recall_male": _recall(confusion, "male"),
        "confusion": confusion,
        "predictions": [
            (file, label, round(float(probability), 6))
            for (file, label), probability in zip(evaluated, probabilities, strict=True)
        ],
    }


def _recall(confusion: dict, label: str) -> float | None:
    total = sum(confusion[label].values())
    return confusion[label][label] / total if total else None
