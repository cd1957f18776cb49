"""Stage 2: detect the faces in every downloaded image and crop them.

For each image that stage 1 saved (status ``ok`` in ``manifest.csv``) the
stage applies the EXIF orientation, finds the faces, and saves each face as
``Cropped_faces/<image>_<i>.jpg`` with its 68 landmarks in
``<image>_<i>.txt`` (one ``x y`` pair per line, in crop coordinates). Faces
are numbered from 1, largest first. Two tables record the results:

``faces.csv``
    One row per face: its box in the upright image, the crop's box, the
    detector's score, and whether it is its image's largest face.
``images.csv``
    One row per image: how many faces it has, or why it could not be read.
"""

from __future__ import annotations

import io
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..faces import DetectionSettings, FaceDetector, crop_box
from ..files import Journal, read_csv_rows, write_bytes_atomic, write_csv_atomic, write_text_atomic
from ..images import load_rgb
from ..layout import Layout
from .batches import Batch, TermWork, record_error, run_stage
from .common import TermReport

logger = logging.getLogger(__name__)

STAGE = "crop"
CROP_JPEG_QUALITY = 95
FACES_COLUMNS = (
    "term",
    "image",
    "rank",
    "face",
    "crop",
    "landmarks",
    "left",
    "top",
    "right",
    "bottom",
    "width",
    "height",
    "score",
    "detector",
    "largest",
    "crop_left",
    "crop_top",
    "crop_right",
    "crop_bottom",
    "image_width",
    "image_height",
)
IMAGES_COLUMNS = (
    "image",
    "rank",
    "status",
    "reason",
    "image_width",
    "image_height",
    "faces",
    "seconds",
)


@dataclass(frozen=True)
class CropSettings:
    """Options of the crop stage; ``images_per_batch`` images go to a worker at a time."""

    root: Path
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    force: bool = False
    images_per_batch: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))


def crop_terms(terms: list[str], settings: CropSettings, workers: int) -> list[TermReport]:
    """Run stage 2 for every term, spreading images over ``workers`` processes."""
    layout = Layout(settings.root)

    def prepare(term: str) -> TermReport | TermWork:
        report = _term_precondition(term, layout, settings)
        return report if report is not None else _term_work(term, layout, settings)

    job = _CropBatch(settings.root, settings.detection)
    return run_stage(terms, prepare, job, settings.images_per_batch, workers, STAGE, "image")


def crop_term(term: str, settings: CropSettings) -> TermReport:
    """Run stage 2 for one term in this process."""
    return crop_terms([term], settings, workers=1)[0]


def _term_precondition(term: str, layout: Layout, settings: CropSettings) -> TermReport | None:
    """Return a report if the term needs no work or cannot be done, else None."""
    manifest = layout.manifest_path(term)
    if not manifest.exists():
        reason = f"{manifest} is missing; run the download stage first"
        logger.warning("%s: cannot crop: %s", term, reason)
        return TermReport(term, STAGE, "missing_input", reason)

    faces = layout.faces_path(term)
    if faces.exists() and not settings.force and faces.stat().st_mtime >= manifest.stat().st_mtime:
        logger.info("%s: skipping crop, %s is up to date", term, faces)
        return TermReport(term, STAGE, "skipped", counts={"faces": len(read_csv_rows(faces))})

    journal = layout.crops_dir(term) / "faces.partial.jsonl"
    interrupted_run_is_stale = (
        journal.exists() and journal.stat().st_mtime < manifest.stat().st_mtime
    )
    if settings.force or faces.exists() or interrupted_run_is_stale:
        # Crops of an earlier run may come from other images or settings.
        shutil.rmtree(layout.crops_dir(term), ignore_errors=True)
    return None


def _term_work(term: str, layout: Layout, settings: CropSettings) -> TermWork:
    images = [
        {"term": term, "image": row["file"], "rank": int(row["rank"])}
        for row in read_csv_rows(layout.manifest_path(term))
        if row["status"] == "ok" and row["file"]
    ]
    return TermWork(
        term=term,
        items=images,
        journal=Journal(layout.crops_dir(term) / "faces.partial.jsonl"),
        key=lambda record: record["image"],
        finish=lambda records: _write_tables(term, layout, records),
        failed_record=_failed_image,
    )


def _failed_image(item: dict, error: BaseException) -> dict:
    return {**record_error(item, error), "faces": []}


class _CropBatch:
    """Picklable callable that crops the faces of a batch of images in a worker."""

    def __init__(self, root: Path, detection: DetectionSettings) -> None:
        self.root = root
        self.detection = detection

    def __call__(self, batch: Batch) -> list[dict]:
        layout = Layout(self.root)
        detector = _detector(self.detection)
        return [
            crop_image(
                layout.images_dir(batch.term) / item["image"],
                layout.crops_dir(batch.term),
                detector,
                item,
            )
            for item in batch.items
        ]


_detectors: dict[DetectionSettings, FaceDetector] = {}


def _detector(settings: DetectionSettings) -> FaceDetector:
    """Return this process's detector, loading the models on first use."""
    if settings not in _detectors:
        _detectors[settings] = FaceDetector(settings)
    return _detectors[settings]


def crop_image(path: Path, crops_dir: Path, detector: FaceDetector, item: dict) -> dict:
    """Find and save the faces of one image; return its record.

    The record contains the image's row of ``images.csv`` and, under
    ``faces``, its rows of ``faces.csv``. An image that cannot be read gets
    status ``unreadable`` and no faces.
    """
    started = time.perf_counter()
    record = {**item, "status": "ok", "reason": "", "faces": []}
    try:
        image = load_rgb(path)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        logger.warning("%s: cannot read %s: %s", item["term"], path, error)
        return {**record, "status": "unreadable", "reason": f"{type(error).__name__}: {error}"}

    height, width = image.shape[:2]
    faces = detector.detect(image)
    stem = Path(item["image"]).stem
    for number, face in enumerate(faces, start=1):
        record["faces"].append(
            _save_face(image, face, number, stem, crops_dir, detector.settings, item)
        )

    record.update(
        status="ok" if faces else "no_face",
        image_width=width,
        image_height=height,
        seconds=round(time.perf_counter() - started, 3),
    )
    return record


def _save_face(image, face, number, stem, crops_dir, settings, item) -> dict:
    height, width = image.shape[:2]
    crop_left, crop_top, crop_right, crop_bottom = crop_box(face.box, width, height, settings)
    crop_name = f"{stem}_{number}.jpg"
    landmarks_name = f"{stem}_{number}.txt"

    buffer = io.BytesIO()
    Image.fromarray(image[crop_top:crop_bottom, crop_left:crop_right]).save(
        buffer, "JPEG", quality=CROP_JPEG_QUALITY
    )
    write_bytes_atomic(crops_dir / crop_name, buffer.getvalue())
    points = face.landmarks - np.array([crop_left, crop_top])
    write_text_atomic(crops_dir / landmarks_name, "".join(f"{x} {y}\n" for x, y in points))

    left, top, right, bottom = face.box
    return {
        "term": item["term"],
        "image": item["image"],
        "rank": item["rank"],
        "face": number,
        "crop": crop_name,
        "landmarks": landmarks_name,
        "left": left,
        "top": top,
        "right": right,
        "bottom": bottom,
        "width": face.width,
        "height": face.height,
        "score": round(face.score, 4),
        "detector": face.detector,
        "largest": number == 1,
        "crop_left": crop_left,
        "crop_top": crop_top,
        "crop_right": crop_right,
        "crop_bottom": crop_bottom,
        "image_width": width,
        "image_height": height,
    }


def _write_tables(term: str, layout: Layout, records: list[dict]) -> TermReport:
    records = sorted(records, key=lambda record: record["rank"])
    faces = [face for record in records for face in record.get("faces", [])]
    write_csv_atomic(layout.faces_path(term), faces, FACES_COLUMNS)
    write_csv_atomic(
        layout.detections_path(term),
        (
            {**{key: record.get(key) for key in IMAGES_COLUMNS}, "faces": len(record["faces"])}
            for record in records
        ),
        IMAGES_COLUMNS,
    )
    statuses = [record["status"] for record in records]
    counts = {
        "images": len(records),
        "with_face": statuses.count("ok"),
        "faces": len(faces),
        "failed": len(records) - statuses.count("ok") - statuses.count("no_face"),
    }
    status = "done" if records else "no_results"
    return TermReport(term, STAGE, status, counts=counts)
