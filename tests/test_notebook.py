"""Data_Analysis.ipynb runs top to bottom on the results of a real pipeline run.

The notebook is executed with nbclient in a Python 3 kernel, on a copy in a
temporary folder, with IMAGECENSUS_ROOT pointing at the results. The
committed notebook is only read.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import PROJECT
from nbclient import NotebookClient

from imagecensus.analysis import AnalysisSettings, analyze
from imagecensus.files import write_csv_atomic
from imagecensus.layout import Layout
from imagecensus.stages.classify import DATASET_COLUMNS

NOTEBOOK = PROJECT / "Data_Analysis.ipynb"
KERNEL_TIMEOUT_SECONDS = 300


def execute_notebook(root: Path, folder: Path) -> nbformat.NotebookNode:
    """Execute a copy of the notebook in ``folder`` on the results below ``root``."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / NOTEBOOK.name
    shutil.copyfile(NOTEBOOK, copy)
    notebook = nbformat.read(copy, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=KERNEL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    # The kernel inherits this process's environment when it starts.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMAGECENSUS_ROOT", str(root))
        client.execute()
    nbformat.write(notebook, copy)
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


def error_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    return [
        f"{output['ename']}: {output['evalue']}"
        for output in outputs(notebook)
        if output["output_type"] == "error"
    ]


def printed_lines(notebook: nbformat.NotebookNode) -> list[str]:
    """Return the lines the notebook printed, without displayed tables and images."""
    lines = []
    for output in outputs(notebook):
        if output["output_type"] == "stream":
            lines.extend(output["text"].splitlines())
    return lines


def table_html(notebook: nbformat.NotebookNode) -> str:
    """Return the HTML of the per-term summary table."""
    for output in outputs(notebook):
        text = output.get("data", {}).get("text/html", "")
        if "census % women" in text:
            return text
    raise AssertionError("the notebook displayed no summary table")


def png_outputs(notebook: nbformat.NotebookNode) -> list[bytes]:
    return [
        base64.b64decode(output["data"]["image/png"])
        for output in outputs(notebook)
        if "image/png" in output.get("data", {})
    ]


def read_statistics(root: Path) -> dict:
    return json.loads((Layout(root).results_dir / "statistics.json").read_text(encoding="utf-8"))


def read_summary_terms(root: Path) -> list[dict[str, str]]:
    with open(Layout(root).results_dir / "summary.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def study_notebook(urls_run, tmp_path_factory) -> nbformat.NotebookNode:
    """The notebook executed on the results of ``python Pipeline.py`` over the test study."""
    assert urls_run.returncode == 0, urls_run.output
    return execute_notebook(urls_run.root, tmp_path_factory.mktemp("study_notebook"))


@pytest.fixture(scope="module")
def sparse_root(urls_run, tmp_path_factory) -> Path:
    """A copy of the study, analyzed again with three compared terms and two without faces.

    ``architect`` has a census figure but its faces table is empty, as the
    classify stage writes it when no image had a face. ``clown`` has no
    census row and no files at all, as when its search failed.
    """
    root = tmp_path_factory.mktemp("sparse") / "study"
    shutil.copytree(urls_run.root, root)
    write_csv_atomic(Layout(root).dataset_path("architect"), [], DATASET_COLUMNS)
    settings = AnalysisSettings(root=root, census=PROJECT / "Professions.csv")
    analyze(["CEO", "nurse", "pilot", "architect", "clown"], settings)
    return root


@pytest.fixture(scope="module")
def sparse_notebook(sparse_root, tmp_path_factory) -> nbformat.NotebookNode:
    return execute_notebook(sparse_root, tmp_path_factory.mktemp("sparse_notebook"))


def test_notebook_saved_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.outputs for cell in code_cells] == [[]] * len(code_cells)
    assert [cell.execution_count for cell in code_cells] == [None] * len(code_cells)


def test_notebook_first_code_cell_sets_root():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert 'ROOT = Path(os.environ.get("IMAGECENSUS_ROOT", "."))' in first.source


@pytest.mark.slow
def test_study_notebook_runs_without_error(study_notebook):
    assert error_outputs(study_notebook) == []


@pytest.mark.slow
def test_study_notebook_executes_every_cell(study_notebook):
    counts = [cell.execution_count for cell in study_notebook.cells if cell.cell_type == "code"]
    assert None not in counts


@pytest.mark.slow
def test_table_lists_every_term(study_notebook, urls_run):
    table = table_html(study_notebook)
    for term in urls_run.scenario.terms:
        assert f"<th>{html.escape(term)}</th>" in table, term


@pytest.mark.slow
def test_table_sorted_by_census_share(study_notebook, urls_run):
    table = table_html(study_notebook)
    rows = read_summary_terms(urls_run.root)
    expected = [row["term"] for row in sorted(rows, key=lambda row: float(row["census_pct_women"]))]
    positions = [table.index(f"<th>{html.escape(term)}</th>") for term in expected]
    assert positions == sorted(positions)


@pytest.mark.slow
def test_pearson_r_printed_from_statistics(study_notebook, urls_run):
    pearson = read_statistics(urls_run.root)["pearson"]
    expected = (
        f"Pearson r = {pearson['r']:.3f}, 95 % interval "
        f"{pearson['ci_low']:.3f} to {pearson['ci_high']:.3f}"
    )
    assert any(line.startswith(expected) for line in printed_lines(study_notebook))


@pytest.mark.slow
def test_spearman_rho_printed_from_statistics(study_notebook, urls_run):
    rho = read_statistics(urls_run.root)["spearman"]["rho"]
    assert any(
        line.startswith(f"Spearman rho = {rho:.3f}") for line in printed_lines(study_notebook)
    )


@pytest.mark.slow
def test_original_study_printed_for_comparison(study_notebook):
    assert any("r = 0.869 over 16 occupations" in line for line in printed_lines(study_notebook))


@pytest.mark.slow
def test_scatter_displays_results_png(study_notebook, urls_run):
    scatter = (Layout(urls_run.root).results_dir / "scatter.png").read_bytes()
    assert scatter in png_outputs(study_notebook)


@pytest.mark.slow
def test_histogram_is_second_png(study_notebook):
    images = png_outputs(study_notebook)
    assert len(images) == 2
    assert images[1].startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.slow
def test_study_terms_all_have_faces(study_notebook):
    assert "Terms without faces: none" in printed_lines(study_notebook)


@pytest.mark.slow
def test_sparse_notebook_runs_without_error(sparse_notebook):
    assert error_outputs(sparse_notebook) == []


@pytest.mark.slow
def test_sparse_notebook_lists_terms_without_faces(sparse_notebook, sparse_root):
    missing = read_statistics(sparse_root)["terms_without_faces"]
    assert missing == ["architect", "clown"]
    assert f"Terms without faces: {', '.join(missing)}" in printed_lines(sparse_notebook)


@pytest.mark.slow
def test_sparse_notebook_lists_terms_without_census(sparse_notebook, sparse_root):
    missing = read_statistics(sparse_root)["terms_without_census_figure"]
    assert missing == ["clown"]
    assert f"Terms without a census figure: {', '.join(missing)}" in printed_lines(sparse_notebook)


@pytest.mark.slow
def test_sparse_notebook_explains_missing_interval(sparse_notebook, sparse_root):
    pearson = read_statistics(sparse_root)["pearson"]
    assert pearson["ci_low"] is None
    expected = (
        f"Pearson r = {pearson['r']:.3f} (no 95 % interval, because it needs at least 4 terms)"
    )
    assert any(line.startswith(expected) for line in printed_lines(sparse_notebook))


@pytest.mark.slow
def test_sparse_table_marks_term_without_faces(sparse_notebook):
    table = table_html(sparse_notebook)
    row = table[table.index("<th>architect</th>") :].split("</tr>")[0]
    assert "no faces" in row
