"""Face detection: EXIF orientation, the shrunken detection copy, crop geometry."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scenario import PHOTOS

from imagecensus.faces import DetectionSettings, FaceDetector, clip_box, crop_box
from imagecensus.images import load_rgb


def _overlap(a, b) -> float:
    """Intersection over union of two boxes."""
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    intersection = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return intersection / union


@pytest.fixture(scope="module")
def detector():
    return FaceDetector(DetectionSettings())


def test_largest_face_comes_first(detector, photos_dir):
    faces = detector.detect(load_rgb(photos_dir / PHOTOS["restaurant"]))
    areas = [face.area for face in faces]
    assert areas == sorted(areas, reverse=True)


def test_boxes_lie_inside_image(detector, photos_dir):
    image = load_rgb(photos_dir / PHOTOS["two_people"])
    height, width = image.shape[:2]
    for face in detector.detect(image):
        left, top, right, bottom = face.box
        assert 0 <= left < right <= width
        assert 0 <= top < bottom <= height


def test_shrunken_copy_maps_boxes_back(photos_dir):
    """Boxes found on a 600-pixel copy land on the faces of the 2000-pixel original."""
    image = load_rgb(photos_dir / PHOTOS["obama_and_biden"])
    full = FaceDetector(DetectionSettings(max_side=0)).detect(image)
    shrunk = FaceDetector(DetectionSettings(max_side=1000)).detect(image)
    assert max(image.shape) == 2000
    for face in shrunk[:2]:
        assert max(_overlap(face.box, other.box) for other in full) > 0.6


def test_exif_orientation_applied_before_detection(detector, photos_dir, tmp_path):
    """A photograph stored sideways with EXIF orientation 6 gives the upright photograph's faces."""
    upright = load_rgb(photos_dir / PHOTOS["obama"])
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "sideways.jpg"
    stored.save(path, "JPEG", quality=95, exif=exif.tobytes())

    loaded = load_rgb(path)
    assert loaded.shape == upright.shape
    faces = detector.detect(loaded)
    expected = detector.detect(upright)
    assert len(faces) == len(expected) == 1
    assert _overlap(faces[0].box, expected[0].box) > 0.8


def test_blank_image_has_no_face(detector):
    assert detector.detect(np.full((300, 400, 3), 128, dtype=np.uint8)) == []


def test_grayscale_photo_is_read_as_rgb(detector, photos_dir, tmp_path):
    path = tmp_path / "gray.png"
    Image.open(photos_dir / PHOTOS["biden"]).convert("L").save(path)
    image = load_rgb(path)
    assert image.shape[2] == 3
    assert len(detector.detect(image)) == 1


def test_crop_margins_scale_with_face():
    settings = DetectionSettings(margin_top=0.5, margin_bottom=0.3, margin_side=0.3)
    assert crop_box((100, 100, 200, 200), 1000, 1000, settings) == (70, 50, 230, 230)
    assert crop_box((100, 100, 140, 140), 1000, 1000, settings) == (88, 80, 152, 152)


def test_crop_clipped_at_border():
    settings = DetectionSettings()
    assert crop_box((0, 10, 50, 60), 60, 70, settings) == (0, 0, 60, 70)


def test_clip_box_limits_coordinates():
    assert clip_box((-5, -5, 105, 50), 100, 40) == (0, 0, 100, 40)


@pytest.mark.parametrize(
    ("option", "value"),
    [("upsample", -1), ("upsample", 5), ("max_side", 50), ("margin_top", -0.1), ("margin_side", 6)],
)
def test_invalid_detection_setting_rejected(option, value):
    with pytest.raises(ValueError, match=option):
        DetectionSettings(**{option: value})


def test_upsampling_finds_small_faces(photos_dir):
    """The restaurant photograph's six faces are 37 to 53 pixels wide: one upsample finds all."""
    image = load_rgb(photos_dir / PHOTOS["restaurant"])
    without = FaceDetector(DetectionSettings(upsample=0)).detect(image)
    with_one = FaceDetector(DetectionSettings(upsample=1)).detect(image)
    assert len(without) < len(with_one) == 6


def test_png_bytes_and_jpeg_bytes_agree(detector, photos_dir):
    """Detection depends on pixels, not on the container they came in."""
    image = load_rgb(photos_dir / PHOTOS["rose_leslie"])
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    buffer.seek(0)
    again = np.asarray(Image.open(buffer).convert("RGB"))
    assert [face.box for face in detector.detect(image)] == [
        face.box for face in detector.detect(again)
    ]
