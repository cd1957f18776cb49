"""Gender classifiers behind one interface, one module per model.

:func:`make_classifier` builds a classifier by the name given on the command
line. Classifiers load their weights when built, so build one per process.
"""

from __future__ import annotations

from ..terms import InputError
from .base import FaceImage, GenderClassifier

DEFAULT_MODEL = "cydral"
MODEL_NAMES = ("cydral",)

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_NAMES",
    "FaceImage",
    "GenderClassifier",
    "check_model_name",
    "make_classifier",
]


def check_model_name(name: str) -> None:
    """Raise InputError unless ``name`` is the name of a gender model."""
    if name not in MODEL_NAMES:
        raise InputError(f"unknown gender model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def make_classifier(name: str = DEFAULT_MODEL) -> GenderClassifier:
    """Load the gender classifier called ``name``.

    Raises
    ------
    InputError
        If no model has that name.
    """
    check_model_name(name)
    from .cydral import CydralGenderClassifier

    return CydralGenderClassifier()
