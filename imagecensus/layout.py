"""Paths of each stage's files, and folder names made from search terms.

Every stage reads and writes below one root folder, in the folder names of
the original study, so that its users find their files where they expect
them::

    Downloaded_Images/<term>/                 stage 1: images named by rank
    Downloaded_Images/<term>/manifest.csv     one row per search result
    Downloaded_Images/<term>/Cropped_faces/   stage 2: crops, landmarks, faces.csv
    Datasets/<term>.csv                       stage 3: one row per face
    Results/                                  stage 4: summary, statistics, plots
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# Names that Windows reserves in every folder, with or without an extension.
_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
# Characters that are invalid in file names on Windows, macOS or Linux.
_INVALID_CHARACTERS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
# Bytes of UTF-8 a folder name may take. Most file systems allow 255; the
# margin leaves room for "Datasets/<term>.csv" and temporary-file suffixes.
MAX_FOLDER_NAME_BYTES = 120
_HASH_LENGTH = 8


def folder_name(term: str) -> str:
    """Make a search term safe to use as a file or folder name.

    The name is stable (the same term always gives the same name) and unique
    per term. A term that is already safe is used unchanged. Any term that
    had to be changed gets a short hash of the original term appended, so
    that ``C/C++`` and ``C_C++`` cannot share a folder. Terms are
    compared and hashed in Unicode NFC form, so the composed and decomposed
    spellings of one word give the same name.

    Parameters
    ----------
    term : str
        The search term as the researcher wrote it.

    Returns
    -------
    str
        A name without path separators, control characters, characters
        that Windows rejects, Windows reserved names, leading or trailing
        dots and spaces, and at most ``MAX_FOLDER_NAME_BYTES`` bytes of UTF-8.

    Raises
    ------
    ValueError
        If the term is empty or only white space.
    """
    if not term.strip():
        raise ValueError(f"invalid search term {term!r}: it is empty; remove the blank term")

    normalized = unicodedata.normalize("NFC", term)
    safe = _INVALID_CHARACTERS.sub("_", normalized).strip(" .")
    if safe.split(".")[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        safe = f"_{safe}"

    if safe == normalized and len(safe.encode("utf-8")) <= MAX_FOLDER_NAME_BYTES:
        return safe

    digest = hashlib.sha1(normalized.encode("utf-8")).hexdigest()[:_HASH_LENGTH]
    budget = MAX_FOLDER_NAME_BYTES - _HASH_LENGTH - 1
    stem = safe.encode("utf-8")[:budget].decode("utf-8", errors="ignore").rstrip(" .")
    return f"{stem}-{digest}" if stem else f"term-{digest}"


@dataclass(frozen=True)
class Layout:
    """Paths of every stage's files below one root folder."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def images_root(self) -> Path:
        return self.root / "Downloaded_Images"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "Datasets"

    @property
    def results_dir(self) -> Path:
        return self.root / "Results"

    @property
    def log_path(self) -> Path:
        return self.root / "imagecensus.log"

    def images_dir(self, term: str) -> Path:
        return self.images_root / folder_name(term)

    def manifest_path(self, term: str) -> Path:
        return self.images_dir(term) / "manifest.csv"

    def search_results_path(self, term: str) -> Path:
        return self.images_dir(term) / "search_results.csv"

    def search_pages_path(self, term: str) -> Path:
        return self.images_dir(term) / "search_pages.csv"

    def search_pages_dir(self, term: str) -> Path:
        return self.images_dir(term) / "search_pages"

    def crops_dir(self, term: str) -> Path:
        return self.images_dir(term) / "Cropped_faces"

    def faces_path(self, term: str) -> Path:
        return self.crops_dir(term) / "faces.csv"

    def detections_path(self, term: str) -> Path:
        return self.crops_dir(term) / "images.csv"

    def dataset_path(self, term: str) -> Path:
        return self.datasets_dir / f"{folder_name(term)}.csv"
