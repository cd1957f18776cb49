"""Fixtures shared by the tests: project paths, labelled test data, a local HTTP server.

The labelled face photographs and census tables are not part of the
repository, because most of the photographs may not be redistributed. The
tests look for them in the folder that IMAGECENSUS_TEST_DATA names, or else
in ``shared/data`` beside the project folder. Tests that need them skip when
they are absent, unless IMAGECENSUS_REQUIRE_SHARED=1, which CI sets so that a
missing folder fails the run instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localserver import LocalServer

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
