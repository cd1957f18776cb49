"""Speed of stages 2 and 3 against baselines measured in the same process.

Run from the project folder:

    python benchmarks/bench_stages.py PHOTOS_DIR [--copies 4]

PHOTOS_DIR is a folder of photographs (the labelled test photographs, for
example). Three comparisons, each as a ratio to its baseline so that the
figures carry over between machines and survive a busy machine better than
seconds do:

1. Face detection on the full-size image (as the original study ran it)
   against the default copy capped at 1600 pixels, with the faces each finds.
2. Gender classification one face per call against batches of 64.
3. The crop stage with one worker process against two, over ``--copies``
   copies of every photograph, each re-encoded so that none is a duplicate.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from imagecensus.faces import DetectionSettings, FaceDetector
from imagecensus.gender import FaceImage, make_classifier
from imagecensus.images import load_rgb
from imagecensus.parallel import default_workers
from imagecensus.stages.crop import CropSettings, crop_terms
from imagecensus.stages.download import DownloadSettings, download_terms

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def timed(function, repeats: int = 3) -> float:
    """Return the median wall time of ``function()`` over ``repeats`` runs, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_detection(images: list) -> None:
    full = FaceDetector(DetectionSettings(max_side=0))
    capped = FaceDetector(DetectionSettings())
    full_faces = sum(len(full.detect(image)) for image in images)
    capped_faces = sum(len(capped.detect(image)) for image in images)
    full_time = timed(lambda: [full.detect(image) for image in images], repeats=1)
    capped_time = timed(lambda: [capped.detect(image) for image in images], repeats=1)
    print(f"detection, {len(images)} photographs:")
    print(f"  full size      {full_time:7.2f} s  {full_faces} faces")
    print(f"  capped at 1600 {capped_time:7.2f} s  {capped_faces} faces")
    print(f"  full size takes {full_time / capped_time:.2f} times as long")


def bench_classification(images: list) -> None:
    detector = FaceDetector(DetectionSettings())
    faces = [FaceImage(image, face.box) for image in images for face in detector.detect(image)]
    faces = (faces * (256 // max(len(faces), 1) + 1))[:256]
    classifier = make_classifier()
    one_by_one = timed(lambda: [classifier.female_probability([face]) for face in faces])
    batched = timed(lambda: classifier.female_probability(faces))
    print(f"classification, {len(faces)} faces:")
    print(f"  one per call   {one_by_one * 1000:7.1f} ms")
    print(f"  batches of 64  {batched * 1000:7.1f} ms")
    print(f"  one per call takes {one_by_one / batched:.2f} times as long")


def bench_crop_workers(photos: list[Path], images: list, copies: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "source" / "term"
        source.mkdir(parents=True)
        # Each copy is re-encoded at its own JPEG quality, because the download
        # stage would set aside byte-identical copies as duplicates.
        for copy in range(copies):
            for photo, image in zip(photos, images, strict=True):
                Image.fromarray(image).save(source / f"{copy}-{photo.stem}.jpg", quality=95 - copy)
        root = Path(folder) / "root"
        download_terms(["term"], DownloadSettings(root=root, engine=f"folder:{source.parent}"), 1)
        count = copies * len(photos)

        def crop(workers: int) -> None:
            crop_terms(["term"], CropSettings(root=root, force=True), workers)

        one_worker = timed(lambda: crop(1), repeats=1)
        two_workers = timed(lambda: crop(2), repeats=1)
    print(f"crop stage, {count} images:")
    print(f"  1 worker       {one_worker:7.2f} s")
    print(f"  2 workers      {two_workers:7.2f} s")
    print(f"  2 workers run {one_worker / two_workers:.2f} times as fast as 1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("photos", type=Path, help="folder of photographs")
    parser.add_argument(
        "--copies", type=int, default=4, help="copies of each photograph for the crop stage"
    )
    arguments = parser.parse_args()
    photos = sorted(
        path for path in arguments.photos.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES
    )
    images = [load_rgb(path) for path in photos]

    print(
        f"{platform.python_version()} on {platform.machine()}, {default_workers()} cores, {len(photos)} photographs"
    )
    bench_detection(images)
    bench_classification(images)
    bench_crop_workers(photos, images, arguments.copies)


if __name__ == "__main__":
    sys.exit(main())
