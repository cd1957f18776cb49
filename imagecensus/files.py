"""Atomic writes, CSV tables and resumable journals.

Every output is first written to a temporary file in the same folder and then
renamed over its final name, so an interrupted run leaves either the old file
or the new one, never half of one. A stage that processes many items appends
each finished item to a journal, so that a re-run after an interruption skips
them.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)


@contextmanager
def atomic_open(path: Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` when the block succeeds.

    If the block raises, the temporary file is removed and ``path`` keeps
    its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # Mode 0o666 lets the umask decide, as for any other file the user
    # creates, where tempfile.mkstemp would make every output private (0o600).
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_csv_atomic(path: Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write ``rows`` as a UTF-8 CSV table with exactly ``columns``.

    ``None`` becomes an empty cell, which pandas reads as missing. Keys that
    are not in ``columns`` raise ``ValueError``, so a misspelt column fails
    loudly instead of disappearing.
    """
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: ("" if value is None else value) for key, value in row.items()})


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """Read a CSV table into a list of dictionaries of strings."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


class Journal:
    """Append-only record of finished work items, one JSON object per line.

    A stage appends each item as it finishes. After an interruption,
    :meth:`load` returns the items recorded so far; a last line cut short by
    the interruption is ignored. When the stage has written its final table
    it calls :meth:`remove`.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._handle: IO[str] | None = None

    def load(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        entries = []
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    logger.warning("ignoring unreadable line %d of %s", number, self.path)
        return entries

    def append(self, entry: Mapping[str, Any]) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8")
            # A line cut short by an interruption must not swallow the next one.
            if self.path.stat().st_size and not _ends_with_newline(self.path):
                self._handle.write("\n")
        self._handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
