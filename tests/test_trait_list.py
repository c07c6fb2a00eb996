"""The trait list of ``--mgwas-summary LIST``: one statistics file per line, optionally
followed by the trait's name; file names with spaces as a whole line, quoted, or with a tab
before the name."""

import pytest

from bayesmix.errors import InputError
from bayesmix.io.trait_list import default_name, read_trait_list


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # relative names are relative to the working directory
    for name in ("height.ma", "my trait.ma.gz", "body mass (2018).txt", "a b.ma"):
        (tmp_path / name).write_text("SNP A1 A2 freq b se p N\n")
    return tmp_path


def listed(tmp_path, text):
    (tmp_path / "list.txt").write_text(text)
    return read_trait_list(tmp_path / "list.txt")


def test_every_way_of_listing_a_file(files):
    text = ("# traits\n\n"
            "height.ma\n"
            "height.ma tall\n"
            "my trait.ma.gz\n"                   # the whole line is a file
            f"{files}/body mass (2018).txt\n"    # absolute, with brackets
            "my trait.ma.gz\tspaced\n"           # a tab before the name
            "  \"a b.ma\"   quoted  \n")          # quoted, blanks around
    assert listed(files, text) == [
        ("height", "height.ma"), ("tall", "height.ma"), ("my_trait", "my trait.ma.gz"),
        ("body_mass_2018", f"{files}/body mass (2018).txt"), ("spaced", "my trait.ma.gz"),
        ("quoted", "a b.ma")]
    assert listed(files, "'a b.ma'\n") == [("a_b", "a b.ma")]


def test_default_names():
    assert default_name("dir/height.ma.gz") == "height"
    assert default_name("bmi.2018.txt") == "bmi.2018"
    assert default_name("my  trait.ma") == "my_trait"
    assert default_name(" (x).ma") == "x"


@pytest.mark.parametrize("text, message", [
    ("nowhere.ma\n", "line 1: no such statistics file: nowhere.ma"),
    ("height.ma\nmy other.ma\n", "line 2: no such statistics file: my (nor is the whole line, "
                                 "'my other.ma', a file; for a file name with spaces, quote it"),
    ("height.ma one two\n", "found 3 fields (nor is the whole line"),
    ("\"a b.ma quoted\n", "line 1: unbalanced quotes"),
    ("\"a b.ma\"\tx\ty\n", "found 3 fields"),
    ("height.ma a/b\n", "cannot be part of an output file name"),
    ("height.ma\nheight.ma HEIGHT\n", "line 2: trait name 'HEIGHT' is also that of line 1"),
    ("# nothing\n\n", "lists no statistics file"),
])
def test_refused_lines_are_named(files, text, message):
    with pytest.raises(InputError) as caught:
        listed(files, text)
    assert str(caught.value).startswith(str(files / "list.txt"))
    assert message in str(caught.value)
