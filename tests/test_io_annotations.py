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
    matrix, missing = annotation_matrix(table, ["rs2", "rs9", "rs1"])
    np.testing.assert_array_equal(matrix, [[1, 0], [1, 0], [1, 1]])
    assert missing == 1
    with pytest.raises(InputError, match="none of the analysed SNPs"):
        annotation_matrix(table, ["rs7"])


@pytest.mark.parametrize("text,message,where", [
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
