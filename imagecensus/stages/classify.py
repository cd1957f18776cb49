"""Stage 3: estimate the probability that each face is a woman's.

The stage reads each term's ``faces.csv``, classifies every face crop with
the chosen gender model, and writes ``Datasets/<term>.csv`` with one row per
face. Its first four columns are those of the original study: ``file`` (the
crop), ``female_probability``, ``height`` and ``width`` (of the face box in
the source image, in pixels). Then come the source image, its rank, the face
number, the face box, whether the face is its image's largest classified
face (the one the analysis counts), the model and a status.

A crop that was deleted by hand (to drop a false detection, say) gets status
``missing_crop`` and no probability, and the analysis leaves it out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..files import Journal, read_csv_rows, write_csv_atomic
from ..gender import DEFAULT_MODEL, FaceImage, GenderClassifier, check_model_name, make_classifier
from ..images import load_rgb
from ..layout import Layout
from .batches import Batch, TermWork, record_error, run_stage
from .common import TermReport

logger = logging.getLogger(__name__)

STAGE = "classify"
DATASET_COLUMNS = (
    "file",
    "female_probability",
    "height",
    "width",
    "image",
    "rank",
    "face",
    "left",
    "top",
    "right",
    "bottom",
    "largest",
    "score",
    "model",
    "status",
    "reason",
)


@dataclass(frozen=True)
class ClassifySettings:
    """Options of the classify stage; ``faces_per_batch`` faces go to a worker at a time."""

    root: Path
    model: str = DEFAULT_MODEL
    force: bool = False
    faces_per_batch: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))


def classify_terms(terms: list[str], settings: ClassifySettings, workers: int) -> list[TermReport]:
    """Run stage 3 for every term, spreading faces over ``workers`` processes."""
    check_model_name(settings.model)
    layout = Layout(settings.root)

    def prepare(term: str) -> TermReport | TermWork:
        report = _term_precondition(term, layout, settings)
        return report if report is not None else _term_work(term, layout, settings)

    job = _ClassifyBatch(settings.root, settings.model)
    return run_stage(terms, prepare, job, settings.faces_per_batch, workers, STAGE, "face")


def classify_term(term: str, settings: ClassifySettings) -> TermReport:
    """Run stage 3 for one term in this process."""
    return classify_terms([term], settings, workers=1)[0]


def _journal(layout: Layout, term: str) -> Journal:
    dataset = layout.dataset_path(term)
    return Journal(dataset.with_name(f".{dataset.stem}.partial.jsonl"))


def _term_precondition(term: str, layout: Layout, settings: ClassifySettings) -> TermReport | None:
    faces = layout.faces_path(term)
    if not faces.exists():
        reason = f"{faces} is missing; run the crop stage first"
        logger.warning("%s: cannot classify: %s", term, reason)
        return TermReport(term, STAGE, "missing_input", reason)

    dataset = layout.dataset_path(term)
    if dataset.exists() and not settings.force and dataset.stat().st_mtime >= faces.stat().st_mtime:
        rows = read_csv_rows(dataset)
        models = {row["model"] for row in rows if row["model"]}
        if models <= {settings.model}:
            logger.info("%s: skipping classify, %s is up to date", term, dataset)
            return TermReport(term, STAGE, "skipped", counts={"faces": len(rows)})

    journal = _journal(layout, term)
    for record in journal.load()[:1]:
        if (
            record.get("model") != settings.model
            or journal.path.stat().st_mtime < faces.stat().st_mtime
        ):
            journal.remove()
    return None


def _term_work(term: str, layout: Layout, settings: ClassifySettings) -> TermWork:
    faces = [
        {**row, "term": term, "model": settings.model}
        for row in read_csv_rows(layout.faces_path(term))
    ]
    return TermWork(
        term=term,
        items=faces,
        journal=_journal(layout, term),
        key=lambda record: record["crop"],
        finish=lambda records: _write_dataset(term, layout, records),
        failed_record=record_error,
    )


class _ClassifyBatch:
    """Picklable callable that classifies a batch of face crops in a worker."""

    def __init__(self, root: Path, model: str) -> None:
        self.root = root
        self.model = model

    def __call__(self, batch: Batch) -> list[dict]:
        crops_dir = Layout(self.root).crops_dir(batch.term)
        return classify_faces(batch.items, crops_dir, _classifier(self.model))


_classifiers: dict[str, GenderClassifier] = {}


def _classifier(model: str) -> GenderClassifier:
    """Return this process's classifier, loading the model on first use."""
    if model not in _classifiers:
        _classifiers[model] = make_classifier(model)
    return _classifiers[model]


def classify_faces(rows: list[dict], crops_dir: Path, classifier: GenderClassifier) -> list[dict]:
    """Classify the faces of ``rows`` (rows of ``faces.csv``) from their crops.

    Returns one record per row, with ``female_probability`` and a status:
    ``ok``, ``missing_crop`` or ``unreadable``.
    """
    records = []
    faces = []
    for row in rows:
        record = {**row, "status": "ok", "reason": "", "female_probability": None}
        records.append(record)
        path = crops_dir / row["crop"]
        if not path.exists():
            record.update(status="missing_crop", reason=f"{path.name} is not in {crops_dir}")
            continue
        try:
            pixels = load_rgb(path)
        except (OSError, ValueError) as error:
            record.update(status="unreadable", reason=f"{type(error).__name__}: {error}")
            logger.warning("%s: cannot read %s: %s", row["term"], path, error)
            continue
        faces.append((record, FaceImage(pixels, _box_in_crop(row))))

    probabilities = classifier.female_probability([face for _, face in faces])
    for (record, _), probability in zip(faces, probabilities, strict=True):
        record["female_probability"] = round(float(probability), 6)
    return records


def _box_in_crop(row: dict) -> tuple[int, int, int, int]:
    crop_left, crop_top = int(row["crop_left"]), int(row["crop_top"])
    return (
        int(row["left"]) - crop_left,
        int(row["top"]) - crop_top,
        int(row["right"]) - crop_left,
        int(row["bottom"]) - crop_top,
    )


def _write_dataset(term: str, layout: Layout, records: list[dict]) -> TermReport:
    records = sorted(records, key=lambda record: (int(record["rank"]), int(record["face"])))
    rows = [
        {
            "file": record["crop"],
            "female_probability": record.get("female_probability"),
            "height": record["height"],
            "width": record["width"],
            "image": record["image"],
            "rank": record["rank"],
            "face": record["face"],
            "left": record["left"],
            "top": record["top"],
            "right": record["right"],
            "bottom": record["bottom"],
            "largest": False,
            "score": record["score"],
            "model": record["model"],
            "status": record["status"],
            "reason": record["reason"],
        }
        for record in records
    ]
    _mark_largest_counted(rows)
    write_csv_atomic(layout.dataset_path(term), rows, DATASET_COLUMNS)
    statuses = [row["status"] for row in rows]
    counts = {
        "faces": len(rows),
        "classified": statuses.count("ok"),
        "crop_deleted": statuses.count("missing_crop"),
        "failed": len(rows) - statuses.count("ok") - statuses.count("missing_crop"),
    }
    return TermReport(term, STAGE, "done" if rows else "no_results", counts=counts)


def _mark_largest_counted(rows: list[dict]) -> None:
    """Set ``largest`` on each image's largest classified face, the one the analysis counts.

    The analysis's own rule decides, so a face whose crop was deleted passes
    the mark to the next largest face of its image.
    """
    # Imported here, in the parent process only, because pandas and scipy
    # would add about a second to every worker's start.
    import pandas as pd

    from ..analysis import largest_faces

    if not rows:
        return
    frame = pd.DataFrame(rows).astype({"height": int, "width": int, "face": int})
    counted = set(largest_faces(frame)["file"])
    for row in rows:
        row["largest"] = row["file"] in counted
