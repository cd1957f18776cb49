"""Result lists from a CSV of URLs and from folders of images on disk."""

from __future__ import annotations

import asyncio
import csv

import pytest

from imagecensus.fetch import Fetcher
from imagecensus.layout import folder_name
from imagecensus.search import SearchContext, make_engine
from imagecensus.search.bing import BingEngine
from imagecensus.search.folder import FolderEngine
from imagecensus.search.urllist import UrlListEngine, read_url_list
from imagecensus.terms import InputError


def write_url_list(tmp_path, header: list[str], rows: list[list[str]]):
    path = tmp_path / "urls.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def search(engine, term: str, limit: int = 100):
    async def run():
        async with Fetcher() as fetcher:
            return await engine.search(term, limit, SearchContext(fetcher=fetcher))

    return asyncio.run(run())


def ranks_and_urls(outcome) -> list[tuple[int, str]]:
    return [(result.rank, result.image_url) for result in outcome.results]


# URL list


def test_url_list_without_rank_uses_file_order(tmp_path):
    path = write_url_list(
        tmp_path,
        ["term", "url"],
        [["nurse", "http://a/1.jpg"], ["lawyer", "http://b/1.jpg"], ["nurse", "http://a/2.jpg"]],
    )
    outcome = search(UrlListEngine(path), "nurse")

    assert ranks_and_urls(outcome) == [(1, "http://a/1.jpg"), (2, "http://a/2.jpg")]
    assert outcome.status == "ok"


def test_url_list_with_rank_sorts_by_rank(tmp_path):
    path = write_url_list(
        tmp_path,
        ["term", "rank", "url"],
        [["nurse", "2", "http://a/second.jpg"], ["nurse", "1", "http://a/first.jpg"]],
    )
    outcome = search(UrlListEngine(path), "nurse")

    assert ranks_and_urls(outcome) == [(1, "http://a/first.jpg"), (2, "http://a/second.jpg")]


def test_url_list_keeps_rank_gaps(tmp_path):
    path = write_url_list(
        tmp_path,
        ["term", "rank", "url"],
        [["nurse", "1", "http://a/1.jpg"], ["nurse", "4", "http://a/4.jpg"]],
    )
    outcome = search(UrlListEngine(path), "nurse")

    assert [result.rank for result in outcome.results] == [1, 4]


def test_url_list_ignores_other_columns(tmp_path):
    path = write_url_list(
        tmp_path,
        ["Term", "URL", "comment"],
        [["nurse", "http://a/1.jpg", "first result"]],
    )

    assert ranks_and_urls(search(UrlListEngine(path), "nurse")) == [(1, "http://a/1.jpg")]


def test_url_list_repeated_rank_raises(tmp_path):
    path = write_url_list(
        tmp_path,
        ["term", "rank", "url"],
        [["nurse", "1", "http://a/1.jpg"], ["nurse", "1", "http://a/other.jpg"]],
    )

    with pytest.raises(InputError, match="rank 1 more than once"):
        read_url_list(path)


def test_same_rank_in_other_terms_is_accepted(tmp_path):
    path = write_url_list(
        tmp_path,
        ["term", "rank", "url"],
        [["nurse", "1", "http://a/1.jpg"], ["lawyer", "1", "http://b/1.jpg"]],
    )

    assert sorted(read_url_list(path)) == ["lawyer", "nurse"]


@pytest.mark.parametrize("rank", ["0", "-3", "first", ""])
def test_url_list_invalid_rank_raises(tmp_path, rank):
    path = write_url_list(tmp_path, ["term", "rank", "url"], [["nurse", rank, "http://a/1.jpg"]])

    with pytest.raises(InputError, match="line 2"):
        read_url_list(path)


def test_url_list_missing_url_column_raises(tmp_path):
    path = write_url_list(tmp_path, ["term", "link"], [["nurse", "http://a/1.jpg"]])

    with pytest.raises(InputError, match="term and url"):
        read_url_list(path)


def test_url_list_missing_term_column_raises(tmp_path):
    path = write_url_list(tmp_path, ["query", "url"], [["nurse", "http://a/1.jpg"]])

    with pytest.raises(InputError, match="term and url"):
        read_url_list(path)


def test_url_list_empty_url_raises(tmp_path):
    path = write_url_list(tmp_path, ["term", "url"], [["nurse", "http://a/1.jpg"], ["nurse", "  "]])

    with pytest.raises(InputError, match="line 3"):
        read_url_list(path)


def test_url_list_missing_file_raises(tmp_path):
    with pytest.raises(InputError, match="not found"):
        UrlListEngine(tmp_path / "absent.csv")


def test_url_list_matches_term_ignoring_case(tmp_path):
    path = write_url_list(tmp_path, ["term", "url"], [[" Software Developer ", "http://a/1.jpg"]])

    assert ranks_and_urls(search(UrlListEngine(path), "software developer")) == [
        (1, "http://a/1.jpg")
    ]


def test_url_list_matches_nfd_term(tmp_path):
    path = write_url_list(tmp_path, ["term", "url"], [["A\u0308rztin", "http://a/1.jpg"]])

    assert len(search(UrlListEngine(path), "\u00c4rztin").results) == 1


def test_url_list_absent_term_is_no_results(tmp_path):
    path = write_url_list(tmp_path, ["term", "url"], [["nurse", "http://a/1.jpg"]])
    outcome = search(UrlListEngine(path), "pilot")

    assert outcome.status == "no_results"
    assert outcome.results == []


def test_url_list_honours_limit(tmp_path):
    rows = [["nurse", f"http://a/{number}.jpg"] for number in range(1, 6)]
    path = write_url_list(tmp_path, ["term", "url"], rows)
    outcome = search(UrlListEngine(path), "nurse", limit=3)

    assert [result.rank for result in outcome.results] == [1, 2, 3]


# Folder of images


def make_term_folder(root, name: str, files: list[str]):
    folder = root / name
    folder.mkdir(parents=True)
    for file in files:
        (folder / file).write_bytes(f"bytes of {file}".encode())
    return folder


def result_names(outcome) -> list[str]:
    return [result.title for result in outcome.results]


def test_folder_ranks_in_natural_order(tmp_path):
    make_term_folder(tmp_path, "nurse", ["10.jpg", "2.jpg", "1.jpg", "b.png", "A.png"])
    outcome = search(FolderEngine(tmp_path), "nurse")

    assert result_names(outcome) == ["1.jpg", "2.jpg", "10.jpg", "A.png", "b.png"]
    assert [result.rank for result in outcome.results] == [1, 2, 3, 4, 5]


def test_folder_skips_hidden_files_and_tables(tmp_path):
    folder = make_term_folder(
        tmp_path,
        "nurse",
        ["1.jpg", ".DS_Store", ".hidden.jpg", "manifest.csv", "notes.txt", "2.webp"],
    )
    (folder / "Cropped_faces").mkdir()

    assert result_names(search(FolderEngine(tmp_path), "nurse")) == ["1.jpg", "2.webp"]


def test_folder_results_are_readable_file_urls(tmp_path):
    make_term_folder(tmp_path, "nurse", ["1.jpg"])
    outcome = search(FolderEngine(tmp_path), "nurse")

    async def read_first():
        async with Fetcher() as fetcher:
            return await fetcher.get(outcome.results[0].image_url)

    assert asyncio.run(read_first()).body == b"bytes of 1.jpg"


def test_folder_found_under_safe_name(tmp_path):
    term = "C/C++ developer"
    make_term_folder(tmp_path, folder_name(term), ["1.jpg"])

    assert result_names(search(FolderEngine(tmp_path), term)) == ["1.jpg"]


def test_folder_found_under_raw_term(tmp_path):
    term = "Secretaries, legal"
    assert folder_name(term) == term
    make_term_folder(tmp_path, term, ["1.jpg"])

    assert result_names(search(FolderEngine(tmp_path), term)) == ["1.jpg"]


def test_folder_raw_term_with_colon(tmp_path):
    # On Linux a researcher may name the folder with the term exactly.
    term = "Secretaries: legal"
    assert folder_name(term) != term
    make_term_folder(tmp_path, term, ["1.jpg"])

    assert result_names(search(FolderEngine(tmp_path), term)) == ["1.jpg"]


def test_folder_missing_term_is_no_results(tmp_path):
    make_term_folder(tmp_path, "nurse", ["1.jpg"])

    outcome = search(FolderEngine(tmp_path), "pilot")

    assert outcome.status == "no_results"
    assert "has no subfolder named 'pilot'" in outcome.reason


def test_folder_found_in_other_letter_case(tmp_path):
    make_term_folder(tmp_path, "Librarian", ["1.jpg"])

    assert result_names(search(FolderEngine(tmp_path), "librarian")) == ["1.jpg"]


def test_folder_without_images_is_no_results(tmp_path):
    make_term_folder(tmp_path, "nurse", ["manifest.csv"])
    outcome = search(FolderEngine(tmp_path), "nurse")

    assert outcome.status == "no_results"
    assert outcome.results == []


def test_folder_honours_limit(tmp_path):
    make_term_folder(tmp_path, "nurse", [f"{number}.jpg" for number in range(1, 12)])
    outcome = search(FolderEngine(tmp_path), "nurse", limit=3)

    assert result_names(outcome) == ["1.jpg", "2.jpg", "3.jpg"]


def test_missing_image_folder_raises(tmp_path):
    with pytest.raises(InputError, match="not found"):
        FolderEngine(tmp_path / "absent")


# make_engine


def test_make_engine_builds_url_list(tmp_path):
    path = write_url_list(tmp_path, ["term", "url"], [["nurse", "http://a/1.jpg"]])

    assert isinstance(make_engine(f"urls:{path}"), UrlListEngine)


def test_make_engine_builds_folder(tmp_path):
    assert isinstance(make_engine(f"folder:{tmp_path}"), FolderEngine)


def test_make_engine_builds_bing_with_url():
    engine = make_engine("bing", "http://127.0.0.1:8000/")

    assert isinstance(engine, BingEngine)
    assert engine.base_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize("spec", ["altavista", "bing:extra", ""])
def test_make_engine_rejects_unknown_engine(spec):
    with pytest.raises(InputError, match="unknown engine"):
        make_engine(spec)


@pytest.mark.parametrize("spec", ["urls:", "folder:", "urls"])
def test_make_engine_requires_path(spec):
    with pytest.raises(InputError, match="needs a path"):
        make_engine(spec)


@pytest.mark.parametrize("kind", ["urls", "folder"])
def test_make_engine_rejects_engine_url_for_local(tmp_path, kind):
    path = write_url_list(tmp_path, ["term", "url"], [["nurse", "http://a/1.jpg"]])
    argument = path if kind == "urls" else tmp_path

    with pytest.raises(InputError, match="--engine-url"):
        make_engine(f"{kind}:{argument}", "http://127.0.0.1:8000")


def test_make_engine_rejects_non_http_engine_url():
    with pytest.raises(InputError, match="not an http or https URL"):
        make_engine("bing", "ftp://127.0.0.1")
