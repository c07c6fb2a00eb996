"""SNP annotation files (--annot): parsing, the added intercept, and clear errors."""

import numpy as np
import pytest

from bayesmix.errors import InputError
from bayesmix.io.annotations import annotation_matrix, read_annotations


def write(tmp_path, text):
    path = tmp_path / "annot.txt"
    path.write_text(text)
    return path


def test_reads_columns_and_adds_the_missing_intercept(tmp_path):
    table = read_annotations(write(tmp_path, "SNP coding cons\nrs1 1 0.5\nrs2 0 1.5\n"))
    assert list(table.columns) == ["Intercept", "coding", "cons"]
    assert table.loc["rs2"].tolist() == [1.0, 0.0, 1.5]
    given = read_annotations(write(tmp_path, "SNP Intercept coding\nrs1 1 1\nrs2 1 0\n"))
    assert list(given.columns) == ["Intercept", "coding"]


def test_snps_without_annotations_get_the_intercept_alone(tmp_path):
    table = read_annotations(write(tmp_path, "SNP coding\nrs1 1\nrs2 0\n"))
    matrix, missing, columns, intercept, note = annotation_matrix(table, ["rs2", "rs9", "rs1"])
    np.testing.assert_array_equal(matrix, [[1, 0], [1, 0], [1, 1]])
    assert (missing, columns, intercept, note) == (1, ["Intercept", "coding"], 0, None)
    with pytest.raises(InputError, match="none of the analysed SNPs"):
        annotation_matrix(table, ["rs7"])


def test_a_set_annotation_listing_its_snps_only_is_not_taken_for_the_intercept(tmp_path):
    """A file listing only the SNPs that have an annotation (its column all ones) was read as
    an intercept: the SNPs it lacks got the 'intercept' too, so every SNP had the annotation
    and SBayesRC silently ignored it. It must give the matrix of the full 0/1 file."""
    snps = ["rs1", "rs2", "rs3", "rs4", "rs5"]
    has = {"rs2", "rs5"}
    expected = np.column_stack([np.ones(5), [s in has for s in snps]]).astype(float)
    full = read_annotations(write(tmp_path, "SNP coding\n" + "".join(
        f"{s} {int(s in has)}\n" for s in snps)))
    assert np.array_equal(annotation_matrix(full, snps)[0], expected)
    listed = read_annotations(write(tmp_path, "SNP coding\nrs5 1\nrs2 1\n"))
    found = annotation_matrix(listed, snps)
    np.testing.assert_array_equal(found[0], expected)  # (the matrix)
    assert (found.columns, found.intercept, found.missing) == (["Intercept", "coding"], 0, 3)
    assert "'coding' is 1 for every SNP of the file" in found.note
    # with a named intercept, another all-ones column is an annotation: 0 where not listed
    named = read_annotations(write(tmp_path, "SNP coding intercept\nrs5 1 1\nrs2 1 1\n"))
    found = annotation_matrix(named, snps)
    np.testing.assert_array_equal(found.matrix, expected[:, ::-1])
    assert (found.intercept, found.note) == (1, None)
    # an all-ones column of a file listing every analysed SNP is the intercept, as before
    ones = read_annotations(write(tmp_path, "SNP base coding\n" + "".join(
        f"{s} 1 {int(s in has)}\n" for s in snps)))
    found = annotation_matrix(ones, snps[1:])
    np.testing.assert_array_equal(found.matrix, expected[1:])
    assert (found.columns, found.intercept, found.note) == (["base", "coding"], 0, None)


@pytest.mark.parametrize("text,message,where", [
    ("SNP Intercept a\nrs1 1 0\n\nrs2 0.5 1\n", "'Intercept' must be 1 on every row, not 0.5",
     ", line 4, column 2"),
    ("SNP a b a\nrs1 1 0 1\n", "'a' is named twice", ", line 1"),
    ("SNP a b\nrs1 1 0\nrs2 1\n", "2 fields where the header has 3", ", line 3"),
    ("SNP a b\nrs1 1 x\n", "'b' is not a number", ", line 2, column 3"),
    ("SNP a\nrs1 nan\n", "'a' is not finite", ", line 2, column 2"),
    ("SNP a\nrs1 1\nrs1 0\n", "rs1 is listed more than once", ""),
    ("SNP\nrs1\n", "expected a header line", ", line 1"),
    ("SNP a\n", "no SNP rows", ""),
])
def test_malformed_files_name_line_and_column(tmp_path, text, message, where):
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message) as error:
        read_annotations(path)
    assert f"annot.txt{where}" in str(error.value)
