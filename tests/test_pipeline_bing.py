"""``python Pipeline.py --engine bing`` end to end, with the Bing replica as the engine.

The replica lists the test study's photographs and broken results for each
term, in small pages of varying size so that every term but one takes
several pages. One result URL carries a query string with ``&``, which the
page shows as ``&amp;``. Its image server returns HTTP 404 unless the
query string arrives unescaped.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from bing_replica import BingReplica, Item, add_image_with_query
from conftest import PROJECT, run_script
from localserver import LocalServer
from scenario import Scenario

from imagecensus.layout import Layout

pytestmark = pytest.mark.slow

PAGE_SIZES = (3, 2, 4)
# The result whose URL carries "?w=800&h=600": the first result of this term.
AMPERSAND_TERM = "CEO"


@dataclass
class BingRun:
    """A finished ``Pipeline.py --engine bing`` run and the replica it searched."""

    layout: Layout
    scenario: Scenario
    replica: BingReplica
    image_urls: dict[str, list[str]]
    ampersand_url: str
    returncode: int
    output: str


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def bing_run(study_server, tmp_path_factory):
    """Run the whole pipeline once on the test study through the Bing replica."""
    server, scenario = study_server
    engine_server = LocalServer().start()
    replica = BingReplica(engine_server)

    image_urls: dict[str, list[str]] = {}
    ampersand_url = ""
    for term, results in scenario.terms.items():
        urls = [scenario.url(server, result) for result in results]
        if term == AMPERSAND_TERM:
            first = results[0]
            ampersand_url = add_image_with_query(
                engine_server, first.path, first.body, first.content_type
            )
            urls[0] = ampersand_url
        image_urls[term] = urls
        items = [
            Item(url, f"{server.base_url}/pages/{rank}.html", f"{term}: {result.name}")
            for rank, (url, result) in enumerate(zip(urls, results, strict=True), start=1)
        ]
        replica.add_results(term, items, page_sizes=PAGE_SIZES)

    folder = tmp_path_factory.mktemp("bing_run")
    terms_file = folder / "terms.txt"
    terms_file.write_text("\n".join(scenario.terms) + "\n", encoding="utf-8")
    root = folder / "study"
    returncode, output, seconds = run_script(
        "Pipeline.py", terms_file, "--engine", "bing", "--engine-url", replica.base_url,
        "--root", root, "--workers", "2", "--census", PROJECT / "Professions.csv", cwd=folder,
    )  # fmt: skip
    print(f"\nPipeline.py --engine bing on the test study took {seconds:.1f} s")

    yield BingRun(Layout(root), scenario, replica, image_urls, ampersand_url, returncode, output)
    engine_server.stop()


def manifest(run: BingRun, term: str) -> list[dict[str, str]]:
    return read_rows(run.layout.manifest_path(term))


def test_bing_pipeline_exits_zero(bing_run):
    assert bing_run.returncode == 0, bing_run.output


def test_bing_replica_saw_valid_requests(bing_run):
    assert bing_run.replica.problems == []


def test_bing_manifest_row_per_result(bing_run):
    for term, results in bing_run.scenario.terms.items():
        assert len(manifest(bing_run, term)) == len(results), term


def test_bing_manifest_engine_is_bing(bing_run):
    for term in bing_run.scenario.terms:
        assert {row["engine"] for row in manifest(bing_run, term)} == {"bing"}, term


def test_bing_manifest_ranks_follow_replica(bing_run):
    for term, urls in bing_run.image_urls.items():
        rows = manifest(bing_run, term)
        assert [int(row["rank"]) for row in rows] == list(range(1, len(urls) + 1)), term
        assert [row["image_url"] for row in rows] == urls, term


def test_bing_manifest_pages_follow_replica(bing_run):
    for term in bing_run.scenario.terms:
        pages = bing_run.replica.pages(term)
        expected = [str(number) for number, page in enumerate(pages, start=1) for _ in page]
        assert [row["page"] for row in manifest(bing_run, term)] == expected, term


def test_bing_terms_span_several_pages(bing_run):
    several = [term for term in bing_run.scenario.terms if len(bing_run.replica.pages(term)) > 2]

    assert len(several) >= 2


def test_bing_manifest_page_urls_filled(bing_run):
    prefix = f"{bing_run.replica.base_url}/images/async?"
    for term in bing_run.scenario.terms:
        for row in manifest(bing_run, term):
            assert row["page_url"].startswith(prefix), (term, row["rank"])


def test_bing_manifest_statuses_match_scenario(bing_run):
    for term, results in bing_run.scenario.terms.items():
        statuses = [row["status"] for row in manifest(bing_run, term)]
        assert statuses == [result.status for result in results], term


def test_bing_ampersand_url_downloaded(bing_run):
    row = manifest(bing_run, AMPERSAND_TERM)[0]

    assert row["image_url"] == bing_run.ampersand_url
    assert "&amp;" not in row["image_url"]
    assert row["status"] == "ok"


def test_bing_search_pages_recorded(bing_run):
    for term in bing_run.scenario.terms:
        rows = read_rows(bing_run.layout.search_pages_path(term))
        assert len(rows) == len(bing_run.replica.page_requests(term)), term
        assert len(rows) == len(bing_run.replica.pages(term)) + 1, term
        assert rows[-1]["status"] == "end", term


def test_bing_search_pages_saved(bing_run):
    for term in bing_run.scenario.terms:
        folder = bing_run.layout.images_dir(term)
        for row in read_rows(bing_run.layout.search_pages_path(term)):
            saved = folder / row["file"]
            assert row["file"] and saved.is_file(), (term, row["number"])


def test_bing_search_pages_sent_offsets(bing_run):
    for term in bing_run.scenario.terms:
        firsts = [1]
        for page in bing_run.replica.pages(term):
            firsts.append(firsts[-1] + len(page))
        requests = bing_run.replica.page_requests(term)
        assert [int(request.query["first"][0]) for request in requests] == firsts, term


def test_bing_datasets_have_study_columns(bing_run):
    for term in bing_run.scenario.terms:
        with open(bing_run.layout.dataset_path(term), newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        assert header[:4] == ["file", "female_probability", "height", "width"], term


def test_bing_summary_row_per_term(bing_run):
    rows = read_rows(bing_run.layout.results_dir / "summary.csv")

    assert sorted(row["term"] for row in rows) == sorted(bing_run.scenario.terms)


def test_bing_summary_counts_results(bing_run):
    rows = read_rows(bing_run.layout.results_dir / "summary.csv")

    for row in rows:
        assert int(row["results"]) == len(bing_run.scenario.terms[row["term"]]), row["term"]


def test_bing_statistics_count_terms(bing_run):
    path = bing_run.layout.results_dir / "statistics.json"
    statistics = json.loads(path.read_text(encoding="utf-8"))

    assert statistics["terms"] == len(bing_run.scenario.terms)


def test_bing_scatter_plot_written(bing_run):
    scatter = bing_run.layout.results_dir / "scatter.png"

    assert scatter.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
