"""The command line: scripts, subcommands, and invalid input rejected before any work."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import run_script

SCRIPTS = ["DownloadImages.py", "CropFaces.py", "DetectGender.py", "Pipeline.py"]
SEARCHING_SCRIPTS = ["DownloadImages.py", "Pipeline.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_help_lists_common_options(script, tmp_path):
    returncode, output, _ = run_script(script, "--help", cwd=tmp_path)
    assert returncode == 0
    for option in ("--root", "--workers", "--force", "--quiet"):
        assert option in output, option


@pytest.mark.parametrize("script", SEARCHING_SCRIPTS)
def test_search_scripts_take_engine_and_limit(script, tmp_path):
    returncode, output, _ = run_script(script, "--help", cwd=tmp_path)
    assert "--engine" in output
    assert "--limit" in output


def test_crop_script_rejects_engine(tmp_path):
    returncode, output, _ = run_script(
        "CropFaces.py", "terms.txt", "--engine", "bing", cwd=tmp_path
    )
    assert returncode == 2
    assert "unrecognized arguments: --engine bing" in output


def test_command_lists_subcommands(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "imagecensus", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    for command in ("download", "crop", "classify", "analyze", "run", "evaluate"):
        assert command in completed.stdout, command


@pytest.fixture
def terms_file(tmp_path):
    path = tmp_path / "terms.txt"
    path.write_text("nurse\nCEO\n", encoding="utf-8")
    return path


def test_missing_census_rejected_before_work(terms_file, tmp_path):
    urls = tmp_path / "urls.csv"
    urls.write_text("term,url\nnurse,http://127.0.0.1:9/a.jpg\n", encoding="utf-8")
    returncode, output, _ = run_script(
        "Pipeline.py",
        terms_file,
        "--engine",
        f"urls:{urls}",
        "--census",
        "missing.csv",
        "--root",
        tmp_path / "study",
        cwd=tmp_path,
    )
    assert returncode == 2
    assert "census table not found: missing.csv" in output
    assert not (tmp_path / "study").exists()


def test_unknown_engine_rejected(terms_file, tmp_path):
    returncode, output, _ = run_script(
        "DownloadImages.py", terms_file, "--engine", "altavista", "--root", tmp_path, cwd=tmp_path
    )
    assert returncode == 2
    assert "unknown engine 'altavista'" in output


def test_negative_retries_rejected(terms_file, tmp_path):
    returncode, output, _ = run_script(
        "DownloadImages.py", terms_file, "--retries", "-1", "--root", tmp_path, cwd=tmp_path
    )
    assert returncode == 2
    assert "retries must be 0 or more, got -1" in output


def test_missing_terms_file_rejected(tmp_path):
    returncode, output, _ = run_script("CropFaces.py", "Profesions.txt", cwd=tmp_path)
    assert returncode == 2
    assert "terms file not found: Profesions.txt" in output
    assert not (tmp_path / "imagecensus.log").exists()


def test_census_year_without_rows_rejected(terms_file, tmp_path, project):
    returncode, output, _ = run_script(
        "Pipeline.py",
        terms_file,
        "--census",
        project / "Professions.csv",
        "--census-year",
        "2019",
        "--engine",
        "folder:.",
        "--root",
        tmp_path,
        cwd=tmp_path,
    )
    assert returncode == 2
    assert "has no rows for 2019; years available: 2018, 2025" in output


def test_invalid_upsample_rejected(terms_file, tmp_path):
    returncode, output, _ = run_script(
        "CropFaces.py", terms_file, "--upsample", "9", "--root", tmp_path, cwd=tmp_path
    )
    assert returncode == 2
    assert "upsample must be between 0 and 4, got 9" in output
