"""Shared file helpers: field counting, number checks, gzip detection, atomic writes."""

import gzip

import numpy as np
import pytest

from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open, count_fields, first_non_numeric, open_text


@pytest.mark.parametrize("sep", [r"\s+", "\t"])
def test_field_counts_match_python_split_on_random_text(sep):
    """The vectorised per-line field counter against str.split, with blank lines, CRLF,
    leading blanks, no final newline, and chunk sizes cutting lines anywhere."""
    rng = np.random.default_rng(1)
    for _ in range(200):
        lines = []
        for _ in range(rng.integers(1, 20)):
            tokens = ["x" * rng.integers(1, 4) for _ in range(rng.integers(0, 5))]
            joiner = "\t" if sep == "\t" else str(rng.choice(["\t", " ", "  "]))
            lead = " " if sep != "\t" and rng.uniform() < 0.2 else ""
            lines.append(lead + joiner.join(tokens) + ("\r" if rng.uniform() < 0.2 else ""))
        text = "\n".join(lines) + ("\n" if rng.uniform() < 0.5 else "")
        counts, numbers = count_fields(text.encode(), sep, chunk_bytes=int(rng.integers(1, 40)))
        expected = [(len(x.split()) if sep != "\t" else x.count("\t") + 1, i + 1)
                    for i, x in enumerate(lines) if x.strip()]
        assert list(zip(counts.tolist(), numbers.tolist())) == expected


def test_first_non_numeric_names_line_and_column():
    lines = np.array([2, 3, 5, 9])
    first_non_numeric(["1", "NA", "2e3", "-"], "f.txt", "B", 4, lines)  # all fine
    with pytest.raises(InputError) as err:
        first_non_numeric(["1", "NA", "x1", "y"], "f.txt", "B", 4, lines)
    assert (err.value.path, err.value.line, err.value.column) == ("f.txt", 5, 4)


def test_open_text_detects_gzip_by_content(tmp_path):
    path = tmp_path / "no_extension"
    with gzip.open(path, "wt") as fh:
        fh.write("hello\n")
    with open_text(path) as fh:
        assert fh.read() == "hello\n"


def test_atomic_open_leaves_nothing_when_interrupted(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("partial")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_open(tmp_path / "new.gz") as fh:
        fh.write("x\n")
    with gzip.open(tmp_path / "new.gz", "rt") as fh:
        assert fh.read() == "x\n"
