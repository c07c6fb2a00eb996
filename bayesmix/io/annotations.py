"""SNP annotation files (SBayesRC's ``--annot``): a header line, then one row per SNP, the SNP
id first and one numeric column per annotation (binary or continuous).

The intercept (the annotation-dependent mixture weights' baseline) is the column named
``Intercept`` (any case; it must be 1 on every row), else a column that is 1 on every row of
the file, else an ``Intercept`` column of ones added first. A column that is 1 on every row
but not named ``Intercept`` is the intercept only when the file lists every analysed SNP:
otherwise it may be a set annotation (the file lists the SNPs that have it), so it is read as
an annotation, 0 for the SNPs the file lacks, and an intercept is added
(:func:`annotation_matrix`). SNPs the file lacks get the intercept alone, every other
annotation 0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import open_text


def read_annotations(path) -> pd.DataFrame:
    """The annotation table of ``path``, indexed by SNP id, one float column per annotation
    (an ``Intercept`` column first when the file has no all-ones column). ``attrs``:
    ``intercept``, the intercept's column; ``intercept_named``, whether it is named
    ``Intercept`` or was added (else it is only 1 on every row, see the module docstring).

    Malformed rows (wrong field count, a value that is not a finite number) and duplicated
    SNP ids raise :class:`InputError` naming the line and column.
    """
    header, snps, rows = None, [], []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if header is None:
                if len(fields) < 2:
                    raise InputError("expected a header line: SNP then one name per "
                                     "annotation", path, lineno)
                header, names = fields, fields[1:]
                twice = sorted({name for name in names if names.count(name) > 1})
                if twice:
                    raise InputError(f"annotation {twice[0]!r} is named twice in the header",
                                     path, lineno)
                continue
            if not fields:
                continue
            if len(fields) != len(header):
                raise InputError(f"{len(fields)} fields where the header has {len(header)}",
                                 path, lineno)
            try:
                values = [float(v) for v in fields[1:]]
            except ValueError:
                column = next(i for i, v in enumerate(fields[1:], start=2) if not _is_float(v))
                raise InputError(f"annotation {names[column - 2]!r} is not a number: "
                                 f"{fields[column - 1]!r}", path, lineno, column) from None
            if not np.isfinite(values).all():
                column = 2 + int(np.flatnonzero(~np.isfinite(values))[0])
                raise InputError(f"annotation {names[column - 2]!r} is not finite", path,
                                 lineno, column)
            snps.append(fields[0])
            rows.append(values)
    if not rows:
        raise InputError("no SNP rows after the header", path)
    table = pd.DataFrame(np.asarray(rows, np.float64), index=pd.Index(snps, name="SNP"),
                         columns=names)
    duplicated = table.index.duplicated()
    if duplicated.any():
        snp = table.index[np.flatnonzero(duplicated)[0]]
        raise InputError(f"SNP {snp} is listed more than once", path)
    named = [k for k, name in enumerate(names) if name.lower() == "intercept"]
    if len(named) > 1:
        raise InputError(f"{len(named)} intercept columns ({', '.join(names[k] for k in named)})",
                         path, 1)
    constant = (table == 1.0).all(axis=0).to_numpy()
    if named:
        k = named[0]
        if not constant[k]:
            row = int(np.flatnonzero(table.iloc[:, k].to_numpy() != 1.0)[0])
            raise InputError(f"the intercept column {names[k]!r} must be 1 on every row, not "
                             f"{table.iloc[row, k]:g}", path,
                             _data_line(path, row), k + 2)
        intercept, is_named = names[k], True
    elif constant.any():
        intercept, is_named = names[int(np.flatnonzero(constant)[0])], False
    else:
        table.insert(0, "Intercept", 1.0)
        intercept, is_named = "Intercept", True
    table.attrs.update(intercept=intercept, intercept_named=is_named)
    return table


def _data_line(path, row: int) -> int:
    """The line number of the ``row``-th SNP row (0-based) of ``path`` (blank lines skipped)."""
    with open_text(path) as fh:
        seen = -1
        for lineno, line in enumerate(fh, start=1):
            if lineno > 1 and line.split():
                seen += 1
                if seen == row:
                    return lineno
    return None


class Annotations(NamedTuple):
    """:func:`annotation_matrix`'s result: ``matrix`` (M, A) of the analysed SNPs, ``missing``
    (how many of them the file lacks), ``columns`` (the A names), ``intercept`` (the
    intercept's column index) and ``note`` (a sentence when an all-ones column was read as an
    annotation and an intercept added, else None)."""

    matrix: np.ndarray
    missing: int
    columns: list
    intercept: int
    note: str | None = None


def annotation_matrix(table: pd.DataFrame, snps, path=None) -> Annotations:
    """The annotations of ``snps`` (ids in model order) from ``table``
    (:func:`read_annotations`): SNPs the table lacks get the intercept alone (every other
    annotation 0), as unannotated SNPs. An all-ones column not named ``Intercept`` is the
    intercept only when the table lists every SNP of ``snps``; else it is an annotation (it
    was 1 for the SNPs the table lacks too, so a set annotation listing its SNPs only was
    lost) and an ``Intercept`` column is added first."""
    snps = pd.Index(np.asarray(snps).astype(str))
    found = snps.isin(table.index)
    if not found.any():
        raise InputError("none of the analysed SNPs is in the annotation file", path)
    intercept = table.attrs.get("intercept")
    if intercept is None:  # a table not from read_annotations: its first all-ones column
        ones = np.flatnonzero((table == 1.0).all(axis=0).to_numpy())
        if not len(ones):
            raise InputError("the annotations have no intercept (a column of ones)", path)
        intercept, named = table.columns[int(ones[0])], False
    else:
        named = table.attrs.get("intercept_named", False)
    missing = int((~found).sum())
    note = None
    if missing and not named:
        note = (f"annotation {intercept!r} is 1 for every SNP of the file, which lacks "
                f"{missing} analysed SNPs: read as an annotation (0 for those SNPs), with an "
                "intercept added (name the column 'Intercept' if it is the intercept)")
        table = table.copy()
        table.insert(0, "Intercept", 1.0)  # no column has that name (it would be named)
        intercept = "Intercept"
    matrix = np.zeros((len(snps), table.shape[1]))
    matrix[found] = table.loc[snps[found]].to_numpy()
    k = int(table.columns.get_loc(intercept))
    matrix[~found, k] = 1.0
    return Annotations(matrix, missing, [str(c) for c in table.columns], k, note)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
