"""A small study on real photographs, served over HTTP on 127.0.0.1.

Four search terms get result lists of labelled photographs: politicians'
official portraits, actors, an astronaut, family and restaurant scenes. The
lists also contain broken results: a missing file, an HTML page served as a
JPEG, a JPEG cut in half, a WebP file under a ``.jpg`` name, and the same PNG
at two ranks. Both
the URL-list engine and the Bing replica serve these lists, so that the whole
pipeline runs on them exactly as on a real search.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.cbook
import skimage.data
from localserver import LocalServer
from PIL import Image

SKIMAGE_DATA = Path(skimage.data.__file__).parent
GRACE_HOPPER = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))

# Photographs of the labelled set, by short name.
PHOTOS = {
    "couple": "deepface__tests_unit_dataset_couple.jpg",
    "img1": "deepface__tests_unit_dataset_img1.jpg",
    "keynote": "deepface__tests_unit_dataset_img57.jpg",
    "microphone": "deepface__tests_unit_dataset_img59.jpg",
    "company_event": "deepface__tests_unit_dataset_img67.jpg",
    "two_women": "dlib__examples_faces_2008_001009.jpg",
    "restaurant": "dlib__examples_faces_2008_002079.jpg",
    "three_men": "dlib__examples_faces_2008_002506.jpg",
    "elvis": "dlib__examples_faces_2008_004176.jpg",
    "biden": "face_recognition__examples_biden.jpg",
    "johnsnow": "face_recognition__examples_knn_examples_test_johnsnow_test1.jpg",
    "obama_and_biden": "face_recognition__examples_knn_examples_test_obama_and_biden.jpg",
    "rose_leslie": "face_recognition__examples_knn_examples_train_rose_leslie_img2.jpg",
    "miranda": "face_recognition__examples_lin-manuel-miranda.png",
    "obama": "face_recognition__examples_obama.jpg",
    "two_people": "face_recognition__examples_two_people.jpg",
    "astronaut": "scikit-image__src__skimage2_data_astronaut.png",
    "camera": "scikit-image__src__skimage2_data_camera.png",
}


@dataclass
class Result:
    """One search result: what the server sends and what the manifest must record."""

    name: str
    body: bytes
    content_type: str
    status: str
    photo: str | None = None  # short name in PHOTOS, for results made from a labelled photograph
    detected_format: str | None = None
    path: str = ""


@dataclass
class Scenario:
    terms: dict[str, list[Result]] = field(default_factory=dict)

    def results(self, term: str) -> list[Result]:
        return self.terms[term]

    def serve(self, server: LocalServer) -> None:
        """Add every result to ``server`` under /img/<term>/<rank>-<name>."""
        for term, results in self.terms.items():
            for rank, result in enumerate(results, start=1):
                path = f"/img/{term.replace(' ', '_')}/{rank:02d}-{result.name}"
                result.path = path
                if result.status == "http_404":
                    continue
                server.add(path, result.body, content_type=result.content_type)

    def url(self, server: LocalServer, result: Result) -> str:
        return server.url(result.path)


def _webp(jpeg: Path) -> bytes:
    buffer = io.BytesIO()
    with Image.open(jpeg) as image:
        image.save(buffer, "WEBP", quality=90)
    return buffer.getvalue()


def build_scenario(photos_dir: Path) -> Scenario:
    """Return the four terms and their results, built from ``photos_dir``."""

    def photo(name: str) -> Result:
        file = photos_dir / PHOTOS[name]
        kind = "png" if file.suffix == ".png" else "jpeg"
        return Result(name, file.read_bytes(), f"image/{kind}", "ok", name, kind)

    obama = (photos_dir / PHOTOS["obama"]).read_bytes()
    html = (
        b"<!DOCTYPE html><html><head><title>Image not found</title></head><body>Gone</body></html>"
    )
    return Scenario(
        terms={
            "CEO": [
                photo("obama"),
                photo("biden"),
                photo("two_people"),
                photo("obama_and_biden"),
                photo("company_event"),
                photo("keynote"),
                photo("microphone"),
                Result("missing.jpg", b"", "image/jpeg", "http_404"),
                Result("error-page.jpg", html, "image/jpeg", "not_an_image"),
                Result("half.jpg", obama[: len(obama) // 2], "image/jpeg", "truncated"),
            ],
            "nurse": [
                photo("img1"),
                photo("rose_leslie"),
                photo("two_women"),
            ],
            "pilot": [
                Result(
                    "astronaut.png",
                    (SKIMAGE_DATA / "astronaut.png").read_bytes(),
                    "image/png",
                    "ok",
                    "astronaut",
                    "png",
                ),
                Result(
                    "grace_hopper.jpg", GRACE_HOPPER.read_bytes(), "image/jpeg", "ok", None, "jpeg"
                ),
                Result(
                    "astronaut-copy.png",
                    (photos_dir / PHOTOS["astronaut"]).read_bytes(),
                    "image/png",
                    "duplicate",
                    "astronaut",
                    "png",
                ),
                photo("camera"),
            ],
            "model": [
                photo("couple"),
                photo("miranda"),
                Result(
                    "johnsnow.jpg",
                    _webp(photos_dir / PHOTOS["johnsnow"]),
                    "image/jpeg",
                    "ok",
                    "johnsnow",
                    "webp",
                ),
                photo("restaurant"),
                photo("three_men"),
                photo("elvis"),
            ],
        }
    )


# Faces the detector must find (dlib HOG, one upsample, default settings),
# per photograph. Most equal the labelled count of clearly visible faces; the
# exceptions are the detector's known limits, stated here.
EXPECTED_FACES = {
    "couple": 2,
    "img1": 1,
    "keynote": 1,
    "microphone": 1,  # a partial face at the left edge is not found
    "company_event": 2,  # one labelled face, plus a 44-pixel detection in the background
    "two_women": 2,
    "restaurant": 6,
    "three_men": 3,
    "elvis": 7,
    "biden": 1,
    "johnsnow": 1,
    "obama_and_biden": 3,  # two main faces, plus the woman partly visible at the right edge
    "rose_leslie": 1,
    "miranda": 1,
    "obama": 1,
    "two_people": 2,
    "astronaut": 2,  # one face, plus a weak second detection on the suit
    "camera": 0,  # the only face is in profile, which the frontal detector does not find
}

# Gender of the person whose face is largest, for photographs whose labels
# come from a named identity, another library's unit test, or the image's
# documentation.
IDENTITY_GENDER = {
    "obama": "male",
    "biden": "male",
    "two_people": "male",
    "obama_and_biden": "male",
    "johnsnow": "male",
    "miranda": "male",
    "rose_leslie": "female",
    "img1": "female",
    "astronaut": "female",
}
