"""Read search-term lists and census tables."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .files import read_csv_rows
from .layout import folder_name

CENSUS_COLUMNS = (
    "term",
    "census_year",
    "census_pct_women",
    "census_occupation",
    "source",
    "note",
)


class InputError(ValueError):
    """An input file or option is invalid; the message names the value and the fix."""


def read_terms(path: Path) -> list[str]:
    """Read search terms, one per line.

    Blank lines and lines starting with ``#`` are skipped, and white space
    around a term is removed. Commas and other punctuation belong to the
    term: ``Secretaries, legal`` is one term.

    Raises
    ------
    InputError
        If the file is missing, not UTF-8, has no terms, contains a control
        character, or lists a term twice. Terms that differ only in letter
        case count as the same term, because they would share a folder on
        macOS and Windows.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(
            f"terms file not found: {path}; pass a text file with one search term per line"
        ) from None
    except UnicodeDecodeError as error:
        raise InputError(
            f"terms file {path} is not valid UTF-8 ({error}); save it as UTF-8"
        ) from None

    terms: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        term = unicodedata.normalize("NFC", line.strip())
        if not term or term.startswith("#"):
            continue
        if any(unicodedata.category(character) == "Cc" for character in term):
            raise InputError(
                f"{path}, line {number}: term {term!r} contains a control character; remove it"
            )
        key = term.casefold()
        if key in first_line:
            raise InputError(
                f"{path}, line {number}: term {term!r} repeats the term on line "
                f"{first_line[key]} (letter case is ignored); keep one of them"
            )
        first_line[key] = number
        terms.append(term)

    if not terms:
        raise InputError(f"terms file {path} lists no search terms; write one term per line")
    _check_folder_names_unique(terms, path)
    return terms


def _check_folder_names_unique(terms: list[str], path: Path) -> None:
    seen: dict[str, str] = {}
    for term in terms:
        name = folder_name(term).casefold()
        if name in seen:
            raise InputError(
                f"{path}: terms {seen[name]!r} and {term!r} map to the same folder name; "
                "rename one of them"
            )
        seen[name] = term


@dataclass(frozen=True)
class CensusFigure:
    """The census share of women for one search term in one year."""

    term: str
    year: int
    pct_women: float | None
    occupation: str
    source: str
    note: str


def read_census(path: Path, year: int) -> dict[str, CensusFigure]:
    """Read the census figures of one year, keyed by search term.

    A missing figure (an empty cell, as where BLS printed a dash because
    fewer than 50,000 people were employed) is ``None``, never zero.

    Raises
    ------
    InputError
        If the file is missing, lacks a column, contains an invalid number or a
        term twice for the same year, or has no row for ``year``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"census table not found: {path}; pass a CSV with columns {', '.join(CENSUS_COLUMNS)}"
        )
    rows = read_csv_rows(path)
    missing = [column for column in CENSUS_COLUMNS[:4] if rows and column not in rows[0]]
    if missing:
        raise InputError(f"census table {path} lacks the columns {', '.join(missing)}")

    years: set[int] = set()
    figures: dict[str, CensusFigure] = {}
    for number, row in enumerate(rows, start=2):
        row_year = _parse_year(row["census_year"], path, number)
        years.add(row_year)
        if row_year != year:
            continue
        term = unicodedata.normalize("NFC", row["term"].strip())
        if term in figures:
            raise InputError(f"{path}, line {number}: term {term!r} appears twice for {year}")
        figures[term] = CensusFigure(
            term=term,
            year=row_year,
            pct_women=_parse_percent(row["census_pct_women"], path, number),
            occupation=row["census_occupation"].strip(),
            source=row.get("source", "").strip(),
            note=row.get("note", "").strip(),
        )

    if not figures:
        available = ", ".join(str(value) for value in sorted(years)) or "none"
        raise InputError(
            f"census table {path} has no rows for {year}; years available: {available}"
        )
    return figures


def _parse_year(text: str, path: Path, number: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(
            f"{path}, line {number}: census_year {text!r} is not a whole number"
        ) from None


def _parse_percent(text: str, path: Path, number: int) -> float | None:
    text = text.strip()
    if text in ("", "-", "–"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            f"{path}, line {number}: census_pct_women {text!r} is not a number; "
            "write a percentage such as 36.4, or leave the cell empty if it is unknown"
        ) from None
    if not 0.0 <= value <= 100.0 or math.isnan(value):
        raise InputError(f"{path}, line {number}: census_pct_women {text!r} is outside 0 to 100")
    return value
