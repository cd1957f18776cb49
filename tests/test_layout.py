"""Folder names made from search terms."""

from __future__ import annotations

import unicodedata

import pytest

from imagecensus.layout import MAX_FOLDER_NAME_BYTES, Layout, folder_name

# Device names that Windows reserves in every folder, with any extension.
WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{number}" for number in range(1, 10)),
    *(f"LPT{number}" for number in range(1, 10)),
}
# Characters that Windows rejects in names, and the POSIX separator.
FORBIDDEN_CHARACTERS = set('<>:"/\\|?*')

LONG_TERM = "radiologic technologist " * 12 + "x" * 12
assert len(LONG_TERM) == 300

TRICKY_TERMS = [
    "C/C++ developer",
    "Secretaries: legal",
    "..",
    ".",
    "CON",
    "con",
    "CON.txt",
    "LPT1",
    "nul.tar.gz",
    "aux ",
    LONG_TERM,
    LONG_TERM[:-1] + "y",
    "tab\there",
    "bell\x07",
    "trailing dots...",
    "trailing spaces   ",
    "  leading spaces",
    ". . .",
    'what? "quoted" <tag> a|b *',
    "back\\slash",
    "C/C++",
    "C_C++",
    "Ärztin",
    "software developer",
    "Ärztinnen und Ärzte",
    "看護師",
    "é" * 100,
]


def is_reserved(name: str) -> bool:
    return name.split(".")[0].rstrip(" ").upper() in WINDOWS_RESERVED


@pytest.mark.parametrize("term", TRICKY_TERMS)
def test_folder_name_has_no_separator(term):
    name = folder_name(term)

    assert "/" not in name
    assert "\\" not in name
    assert not FORBIDDEN_CHARACTERS & set(name)


@pytest.mark.parametrize("term", TRICKY_TERMS)
def test_folder_name_has_no_control_character(term):
    name = folder_name(term)

    assert not [character for character in name if unicodedata.category(character) == "Cc"]


@pytest.mark.parametrize("term", TRICKY_TERMS)
def test_folder_name_is_not_reserved(term):
    name = folder_name(term)

    assert not is_reserved(name)
    assert name not in (".", "..")


@pytest.mark.parametrize("term", TRICKY_TERMS)
def test_folder_name_has_no_outer_dots_or_spaces(term):
    name = folder_name(term)

    assert name == name.strip(" .")


@pytest.mark.parametrize("term", TRICKY_TERMS)
def test_folder_name_fits_byte_limit(term):
    assert len(folder_name(term).encode("utf-8")) <= MAX_FOLDER_NAME_BYTES


@pytest.mark.parametrize("term", TRICKY_TERMS)
def test_folder_name_is_stable(term):
    assert folder_name(term) == folder_name(term)


def test_folder_names_differ_between_terms():
    names = {folder_name(term) for term in TRICKY_TERMS}

    assert len(names) == len(TRICKY_TERMS)


@pytest.mark.parametrize("term", TRICKY_TERMS)
def test_folder_name_is_accepted_by_os(term, tmp_path):
    name = folder_name(term)
    folder = tmp_path / name
    folder.mkdir()
    (folder / "manifest.csv").write_text("rank\n", encoding="utf-8")

    assert [path.name for path in tmp_path.iterdir()] == [name]
    assert folder.resolve().parent == tmp_path.resolve()


def test_safe_term_is_kept():
    assert folder_name("software developer") == "software developer"


def test_slash_is_replaced():
    name = folder_name("C/C++ developer")

    assert name.startswith("C_C++ developer")
    assert name != folder_name("C_C++ developer")


def test_colon_is_replaced():
    assert folder_name("Secretaries: legal").startswith("Secretaries_ legal")


def test_slash_and_underscore_terms_differ():
    assert folder_name("C/C++") != folder_name("C_C++")


@pytest.mark.parametrize("term", ["CON", "con", "CON.txt", "LPT1"])
def test_reserved_name_is_prefixed(term):
    name = folder_name(term)

    assert name.startswith("_" + term)
    assert not is_reserved(name)


@pytest.mark.parametrize("term", ["..", "."])
def test_dot_terms_get_a_name(term):
    name = folder_name(term)

    assert name.startswith("term-")
    assert name.strip(".")


def test_long_term_is_shortened():
    name = folder_name(LONG_TERM)

    assert name.startswith(LONG_TERM[:50])
    assert len(name.encode("utf-8")) <= MAX_FOLDER_NAME_BYTES


def test_long_terms_differing_at_end_differ():
    other = LONG_TERM[:-1] + "y"

    assert folder_name(LONG_TERM) != folder_name(other)


def test_long_multibyte_term_is_cut_on_character():
    # 100 two-byte characters exceed the byte limit, so the name is cut, but never inside a character.
    name = folder_name("é" * 100)

    assert name.encode("utf-8").decode("utf-8") == name
    assert name.startswith("é" * 50)


def test_control_character_is_replaced():
    name = folder_name("tab\there")

    assert "\t" not in name
    assert name.startswith("tab_here")


def test_trailing_dots_and_spaces_are_removed():
    name = folder_name("trailing dots. . ")

    assert name.startswith("trailing dots-")


def test_non_ascii_term_stays_readable():
    assert folder_name("Ärztin") == "Ärztin"


def test_nfd_term_matches_nfc_term():
    composed = unicodedata.normalize("NFC", "Ärztin")
    decomposed = unicodedata.normalize("NFD", "Ärztin")
    assert composed != decomposed

    assert folder_name(decomposed) == folder_name(composed)


def test_folder_name_is_nfc():
    name = folder_name(unicodedata.normalize("NFD", "Ärztin"))

    assert unicodedata.is_normalized("NFC", name)


@pytest.mark.parametrize("term", ["", "   ", "\t\n"])
def test_empty_term_raises(term):
    with pytest.raises(ValueError, match="empty"):
        folder_name(term)


def test_layout_uses_folder_name(tmp_path):
    layout = Layout(tmp_path)

    assert layout.images_dir("C/C++ developer").name == folder_name("C/C++ developer")
    assert layout.images_dir("C/C++ developer").parent == tmp_path / "Downloaded_Images"
    assert layout.dataset_path("CON").name == folder_name("CON") + ".csv"
