"""Locate model files that Python packages install.

The files are found through the package's import spec without importing the
package: ``face_recognition_models`` imports ``pkg_resources`` when
imported, which setuptools 82 and newer no longer provide.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path


class ModelNotFoundError(FileNotFoundError):
    """A model file is missing; the message names the package that installs it."""


def package_file(package: str, relative_path: str) -> Path:
    """Return the path of ``relative_path`` inside the installed ``package``.

    Raises
    ------
    ModelNotFoundError
        If the package is not installed or lacks the file.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the package {package!r} is not installed; install it with "
            f"'pip install {package.replace('_', '-')}' or 'pip install -r requirements.txt'"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / relative_path
        if path.is_file():
            return path
    raise ModelNotFoundError(
        f"the package {package!r} has no file {relative_path}; reinstall it with "
        f"'pip install --force-reinstall {package.replace('_', '-')}'"
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landmarks_68_path() -> Path:
    """Return the path of dlib's 68-point face landmark model, from ``face_recognition_models``."""
    return package_file("face_recognition_models", "models/shape_predictor_68_face_landmarks.dat")
