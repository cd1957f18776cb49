"""The interface every gender classifier implements."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..faces import Box


@dataclass(frozen=True)
class FaceImage:
    """A face to classify: pixels and the face box inside them.

    ``pixels`` is an upright ``[height, width, 3]`` uint8 RGB array, usually
    a crop with margin around the face. ``box`` is ``(left, top, right,
    bottom)`` in those pixels, right and bottom exclusive. A whole image may
    serve as its own box when it is already a tight face crop.
    """

    pixels: np.ndarray
    box: Box

    @classmethod
    def whole(cls, pixels: np.ndarray) -> FaceImage:
        height, width = pixels.shape[:2]
        return cls(pixels, (0, 0, width, height))


class GenderClassifier(abc.ABC):
    """A model that estimates, for each face, the probability that it is a woman's.

    Implementations load their weights in ``__init__``, once per process, and
    classify faces in batches.
    """

    #: Short name used on the command line and in the ``model`` column.
    name: str = ""

    @abc.abstractmethod
    def female_probability(self, faces: Sequence[FaceImage]) -> np.ndarray:
        """Return a float array with one probability in [0, 1] per face, in order."""
