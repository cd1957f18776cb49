"""Fixtures shared by the tests: project paths, labelled test data, a local HTTP server.

The labelled face photographs and census tables are not part of the
repository, because most of the photographs may not be redistributed. The
tests look for them in the folder that IMAGECENSUS_TEST_DATA names, or else
in ``shared/data`` beside the project folder. Tests that need them skip when
they are absent, unless IMAGECENSUS_REQUIRE_SHARED=1, which CI sets so that a
missing folder fails the run instead.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from localserver import LocalServer
from scenario import Scenario, build_scenario

PROJECT = Path(__file__).resolve().parent.parent
TEST_DATA = Path(os.environ.get("IMAGECENSUS_TEST_DATA", PROJECT.parent / "shared" / "data"))


def require_test_data(relative: str) -> Path:
    """Return the path of ``relative`` inside the test data, or skip (or fail) the test."""
    path = TEST_DATA / relative
    if path.exists():
        return path
    message = (
        f"test data {path} not found; set IMAGECENSUS_TEST_DATA to the folder that holds "
        "faces/ and census/"
    )
    if os.environ.get("IMAGECENSUS_REQUIRE_SHARED") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def project() -> Path:
    return PROJECT


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    """Whole photographs with one to several faces, labelled in labels.csv."""
    return require_test_data("faces/photos")


@pytest.fixture(scope="session")
def portraits_dir() -> Path:
    """204 tight 200x200 face crops (102 women, 102 men), labelled in labels.csv."""
    return require_test_data("faces/portraits")


@pytest.fixture(scope="session")
def census_dir() -> Path:
    """Copies of BLS table 11 for several years."""
    return require_test_data("census")


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1, stopped after the test."""
    local = LocalServer().start()
    yield local
    local.stop()


@dataclass
class PipelineRun:
    """A finished run of ``python Pipeline.py`` and what it ran on."""

    root: Path
    terms_file: Path
    scenario: Scenario
    server: LocalServer
    returncode: int
    output: str
    seconds: float


def run_script(
    script: str, *arguments: str | Path, cwd: Path, timeout: float = 900
) -> tuple[int, str, float]:
    """Run one of the project's scripts in a fresh Python; return its exit status, output and duration."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, str(PROJECT / script), *map(str, arguments)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - started
    return completed.returncode, completed.stdout + completed.stderr, seconds


@pytest.fixture(scope="session")
def study_server(photos_dir):
    """The photographs and broken results of the test study, served on 127.0.0.1."""
    scenario = build_scenario(photos_dir)
    local = LocalServer().start()
    scenario.serve(local)
    yield local, scenario
    local.stop()


@pytest.fixture(scope="session")
def urls_run(study_server, tmp_path_factory) -> PipelineRun:
    """``python Pipeline.py`` over the test study, with results from a CSV of URLs."""
    server, scenario = study_server
    folder = tmp_path_factory.mktemp("urls_run")
    terms_file = folder / "terms.txt"
    terms_file.write_text("# the test study\n" + "\n".join(scenario.terms) + "\n", encoding="utf-8")
    with open(folder / "urls.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["term", "url"])
        for term, results in scenario.terms.items():
            for result in results:
                writer.writerow([term, scenario.url(server, result)])

    root = folder / "study"
    returncode, output, seconds = run_script(
        "Pipeline.py",
        terms_file,
        "--engine",
        "urls:urls.csv",
        "--root",
        root,
        "--workers",
        "2",
        "--census",
        PROJECT / "Professions.csv",
        cwd=folder,
    )
    print(f"\nPipeline.py on the test study took {seconds:.1f} s")
    return PipelineRun(root, terms_file, scenario, server, returncode, output, seconds)
