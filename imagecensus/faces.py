"""Face detection, crop geometry and landmarks.

Faces are found with dlib's HOG detector (a histogram-of-oriented-gradients
feature with a linear SVM, as ``dlib.get_frontal_face_detector`` provides it;
Dalal and Triggs, CVPR 2005), the detector the original study used through
the face_recognition package. Its 68 landmarks come from dlib's shape
predictor trained on iBUG 300-W (Kazemi and Sullivan, CVPR 2014).

Coordinates are pixels of the upright image (EXIF orientation applied).
A box is ``(left, top, right, bottom)`` with ``right`` and ``bottom``
exclusive, so its width is ``right - left``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .model_files import landmarks_68_path

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class DetectionSettings:
    """Options of face detection and cropping.

    Parameters
    ----------
    upsample : int
        How many times the detector doubles the image before searching.
        Higher numbers find smaller faces but take about four times longer
        each. The detector's window is 80x80 pixels, so with 1 it finds faces
        from about 40 pixels wide.
    max_side : int
        The detector runs on a copy whose longer side is at most this many
        pixels; boxes are mapped back to the original. ``0`` runs on the
        original size. Larger values find smaller faces in large photographs
        at a quadratic cost in time.
    margin_top, margin_bottom, margin_side : float
        Margin added around the face box when cropping, as a fraction of the
        box height (top, bottom) or width (each side). The defaults equal the
        original study's fixed margins (50 pixels above, 30 below and 30 on
        each side) for a face box 100 pixels wide. Unlike fixed margins they
        scale with the face, so a small face is not lost in background and a
        large face is not cut at the hairline. They also contain the whole region that the
        gender models align their input from.
    """

    upsample: int = 1
    max_side: int = 1600
    margin_top: float = 0.5
    margin_bottom: float = 0.3
    margin_side: float = 0.3

    def __post_init__(self) -> None:
        if not 0 <= self.upsample <= 4:
            raise ValueError(f"upsample must be between 0 and 4, got {self.upsample}")
        if self.max_side != 0 and self.max_side < 80:
            raise ValueError(f"max_side must be 0 or at least 80 pixels, got {self.max_side}")
        for name in ("margin_top", "margin_bottom", "margin_side"):
            if not 0.0 <= getattr(self, name) <= 5.0:
                raise ValueError(f"{name} must be between 0 and 5, got {getattr(self, name)}")


@dataclass(frozen=True)
class Face:
    """One detected face.

    ``score`` is the detector's SVM margin (higher is more certain);
    ``detector`` is the index of the sub-detector that fired (0 frontal,
    1 and 2 profiles left and right, 3 and 4 frontal turned left and right).
    ``landmarks`` is a ``[68, 2]`` array of ``(x, y)`` points.
    """

    box: Box
    score: float
    detector: int
    landmarks: np.ndarray

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> int:
        return self.width * self.height


class FaceDetector:
    """dlib's HOG face detector and 68-point landmark predictor, loaded once."""

    def __init__(self, settings: DetectionSettings | None = None) -> None:
        import dlib

        self.settings = settings or DetectionSettings()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(landmarks_68_path()))

    def detect(self, image: np.ndarray) -> list[Face]:
        """Find the faces in an upright ``[height, width, 3]`` uint8 RGB array.

        Returns
        -------
        list of Face
            Largest face first (ties: higher score first). Boxes are clipped
            to the image; faces whose clipped box is empty are left out.
        """
        height, width = image.shape[:2]
        scaled, scale = _detection_copy(image, self.settings.max_side)
        rectangles, scores, detectors = self._detector.run(scaled, self.settings.upsample, 0.0)

        faces = []
        for rectangle, score, detector in zip(rectangles, scores, detectors, strict=True):
            left = round(rectangle.left() / scale)
            top = round(rectangle.top() / scale)
            right = round((rectangle.right() + 1) / scale)
            bottom = round((rectangle.bottom() + 1) / scale)
            # Landmarks are placed on the full-resolution image, for precision.
            shape = self._predictor(image, self._dlib.rectangle(left, top, right - 1, bottom - 1))
            landmarks = np.array([(point.x, point.y) for point in shape.parts()], dtype=np.int32)
            box = clip_box((left, top, right, bottom), width, height)
            if box[2] > box[0] and box[3] > box[1]:
                faces.append(Face(box, float(score), int(detector), landmarks))

        faces.sort(key=lambda face: (-face.area, -face.score))
        return faces


def _detection_copy(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Return the image shrunk so its longer side is at most ``max_side``, and the scale."""
    height, width = image.shape[:2]
    longer = max(height, width)
    if max_side == 0 or longer <= max_side:
        return image, 1.0
    scale = max_side / longer
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    shrunk = Image.fromarray(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(shrunk), scale


def clip_box(box: Box, width: int, height: int) -> Box:
    """Clip a box to an image of ``width`` by ``height`` pixels."""
    left, top, right, bottom = box
    return (
        min(max(left, 0), width),
        min(max(top, 0), height),
        min(max(right, 0), width),
        min(max(bottom, 0), height),
    )


def crop_box(face_box: Box, width: int, height: int, settings: DetectionSettings) -> Box:
    """Return the face box widened by the margins of ``settings``, clipped to the image."""
    left, top, right, bottom = face_box
    box_width, box_height = right - left, bottom - top
    side = round(settings.margin_side * box_width)
    return clip_box(
        (
            left - side,
            top - round(settings.margin_top * box_height),
            right + side,
            bottom + round(settings.margin_bottom * box_height),
        ),
        width,
        height,
    )
