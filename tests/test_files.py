"""Atomic writes and journals."""

from __future__ import annotations

import os
import stat

import pytest

from imagecensus.files import Journal, read_csv_rows, write_bytes_atomic, write_csv_atomic


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_output_mode_follows_umask(tmp_path, umask_022):
    path = tmp_path / "summary.csv"
    write_csv_atomic(path, [{"term": "nurse"}], ["term"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_failed_write_keeps_old_file(tmp_path):
    path = tmp_path / "image.jpg"
    write_bytes_atomic(path, b"old")
    with pytest.raises(ValueError):
        write_csv_atomic(path, [{"unknown": 1}], ["term"])
    assert path.read_bytes() == b"old"
    assert [entry.name for entry in tmp_path.iterdir()] == ["image.jpg"]


def test_none_written_as_empty_cell(tmp_path):
    path = tmp_path / "table.csv"
    write_csv_atomic(
        path, [{"term": "model", "census_pct_women": None}], ["term", "census_pct_women"]
    )
    assert read_csv_rows(path) == [{"term": "model", "census_pct_women": ""}]


def test_journal_ignores_cut_last_line(tmp_path):
    path = tmp_path / "faces.partial.jsonl"
    path.write_text('{"image": "0001.jpg"}\n{"image": "00', encoding="utf-8")
    assert Journal(path).load() == [{"image": "0001.jpg"}]


def test_journal_appends_after_cut_line(tmp_path):
    path = tmp_path / "faces.partial.jsonl"
    path.write_text('{"image": "0001.jpg"}\n{"image": "00', encoding="utf-8")
    with Journal(path) as journal:
        journal.append({"image": "0003.jpg"})
    assert Journal(path).load() == [{"image": "0001.jpg"}, {"image": "0003.jpg"}]


def test_journal_remove_deletes_file(tmp_path):
    journal = Journal(tmp_path / "a.jsonl")
    journal.append({"rank": 1})
    journal.remove()
    assert not journal.path.exists()
