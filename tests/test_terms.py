"""Term lists and census tables, including the project's own Professions files."""

from __future__ import annotations

import csv

import pytest

from imagecensus.terms import CENSUS_COLUMNS, InputError, read_census, read_terms

# The 16 occupations of the original study, in the order of Professions.txt.
STUDY_TERMS = [
    "architect",
    "janitor",
    "receptionist",
    "model",
    "nurse",
    "lawyer",
    "paralegal",
    "doctor",
    "counselor",
    "CEO",
    "software developer",
    "firefighter",
    "hairdresser",
    "pilot",
    "librarian",
    "electrician",
]


def write_terms(tmp_path, text: str, encoding: str = "utf-8"):
    path = tmp_path / "terms.txt"
    path.write_bytes(text.encode(encoding))
    return path


def write_census(tmp_path, rows: list[dict], columns=CENSUS_COLUMNS):
    path = tmp_path / "census.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def census_row(term: str, year: int | str, pct_women: str, occupation: str = "Occupation"):
    return {
        "term": term,
        "census_year": year,
        "census_pct_women": pct_women,
        "census_occupation": occupation,
        "source": "BLS CPS table 11",
        "note": "",
    }


# read_terms


def test_read_terms_skips_comments_and_blank_lines(tmp_path):
    path = write_terms(tmp_path, "# occupations\n\nnurse\n   \n# another comment\nlawyer\n")

    assert read_terms(path) == ["nurse", "lawyer"]


def test_read_terms_strips_white_space(tmp_path):
    path = write_terms(tmp_path, "  nurse \t\n\tsoftware developer  \n")

    assert read_terms(path) == ["nurse", "software developer"]


def test_term_with_commas_is_one_term(tmp_path):
    path = write_terms(tmp_path, "Secretaries, legal\nMedical, dental, and ophthalmic\n")

    assert read_terms(path) == ["Secretaries, legal", "Medical, dental, and ophthalmic"]


def test_read_terms_accepts_byte_order_mark(tmp_path):
    path = write_terms(tmp_path, "\ufeffnurse\nlawyer\n")

    assert read_terms(path) == ["nurse", "lawyer"]


def test_read_terms_normalizes_to_nfc(tmp_path):
    path = write_terms(tmp_path, "A\u0308rztin\n")

    assert read_terms(path) == ["\u00c4rztin"]


def test_duplicate_term_names_both_lines(tmp_path):
    path = write_terms(tmp_path, "nurse\nlawyer\nnurse\n")

    with pytest.raises(InputError) as caught:
        read_terms(path)

    assert "line 3" in str(caught.value)
    assert "line 1" in str(caught.value)


def test_duplicate_differing_in_case_raises(tmp_path):
    path = write_terms(tmp_path, "# terms\nCEO\nnurse\nceo\n")

    with pytest.raises(InputError) as caught:
        read_terms(path)

    assert "line 4" in str(caught.value)
    assert "line 2" in str(caught.value)


def test_missing_terms_file_raises(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_terms(tmp_path / "absent.txt")


def test_non_utf8_terms_file_raises(tmp_path):
    path = write_terms(tmp_path, "Ärztin\nnurse\n", encoding="latin-1")

    with pytest.raises(InputError, match="UTF-8"):
        read_terms(path)


def test_terms_file_without_terms_raises(tmp_path):
    path = write_terms(tmp_path, "# only a comment\n\n")

    with pytest.raises(InputError, match="no search terms"):
        read_terms(path)


def test_term_with_control_character_raises(tmp_path):
    path = write_terms(tmp_path, "nurse\nlaw\x07yer\n")

    with pytest.raises(InputError, match="line 2"):
        read_terms(path)


# read_census


def test_census_reads_figures_of_year(tmp_path):
    path = write_census(
        tmp_path,
        [census_row("nurse", 2018, "88.9", "Registered nurses"), census_row("nurse", 2025, "87.3")],
    )
    figures = read_census(path, 2018)

    assert list(figures) == ["nurse"]
    assert figures["nurse"].pct_women == 88.9
    assert figures["nurse"].occupation == "Registered nurses"
    assert figures["nurse"].year == 2018


def test_empty_census_cell_is_none(tmp_path):
    path = write_census(tmp_path, [census_row("model", 2025, "")])

    assert read_census(path, 2025)["model"].pct_women is None


def test_dash_census_cell_is_none(tmp_path):
    path = write_census(tmp_path, [census_row("model", 2025, "-")])

    assert read_census(path, 2025)["model"].pct_women is None


def test_zero_census_cell_is_zero(tmp_path):
    path = write_census(tmp_path, [census_row("pilot", 2018, "0")])

    assert read_census(path, 2018)["pilot"].pct_women == 0.0


def test_invalid_census_number_raises(tmp_path):
    path = write_census(tmp_path, [census_row("nurse", 2018, "88,9")])

    with pytest.raises(InputError, match="88,9"):
        read_census(path, 2018)


def test_census_percent_over_100_raises(tmp_path):
    path = write_census(tmp_path, [census_row("nurse", 2018, "188.9")])

    with pytest.raises(InputError, match="outside 0 to 100"):
        read_census(path, 2018)


def test_unknown_census_year_lists_years(tmp_path):
    path = write_census(
        tmp_path, [census_row("nurse", 2018, "88.9"), census_row("nurse", 2025, "87.3")]
    )

    with pytest.raises(InputError) as caught:
        read_census(path, 2020)

    assert "2020" in str(caught.value)
    assert "2018, 2025" in str(caught.value)


def test_census_term_twice_in_year_raises(tmp_path):
    path = write_census(
        tmp_path, [census_row("nurse", 2018, "88.9"), census_row("nurse", 2018, "87.0")]
    )

    with pytest.raises(InputError, match="twice"):
        read_census(path, 2018)


def test_census_missing_column_raises(tmp_path):
    columns = [column for column in CENSUS_COLUMNS if column != "census_pct_women"]
    path = write_census(tmp_path, [census_row("nurse", 2018, "88.9")], columns=columns)

    with pytest.raises(InputError, match="census_pct_women"):
        read_census(path, 2018)


def test_missing_census_table_raises(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_census(tmp_path / "absent.csv", 2018)


# The project's Professions.txt and Professions.csv


def test_professions_txt_lists_study_terms(project):
    assert read_terms(project / "Professions.txt") == STUDY_TERMS


@pytest.mark.parametrize("year", [2018, 2025])
def test_professions_csv_covers_every_term(project, year):
    figures = read_census(project / "Professions.csv", year)

    assert sorted(figures) == sorted(STUDY_TERMS)


def test_professions_csv_model_2025_is_missing(project):
    figures = read_census(project / "Professions.csv", 2025)

    assert figures["model"].pct_women is None
    assert figures["model"].note


@pytest.mark.parametrize("year", [2018, 2025])
def test_professions_csv_other_figures_present(project, year):
    figures = read_census(project / "Professions.csv", year)
    missing = [
        term for term, figure in figures.items() if figure.pct_women is None and term != "model"
    ]

    assert missing == []


def test_professions_csv_2018_matches_bls_table(project, census_dir):
    with open(census_dir / "cpsaat11_2018_partial.csv", encoding="utf-8", newline="") as handle:
        bls_rows = list(csv.DictReader(handle))
    figures = read_census(project / "Professions.csv", 2018)

    for term, figure in figures.items():
        matches = [row for row in bls_rows if row["occupation"] == figure.occupation]
        assert len(matches) == 1, f"{term}: BLS rows titled {figure.occupation!r}: {len(matches)}"
        assert figure.pct_women == float(matches[0]["pct_women"]), term
