"""SNP annotation files (SBayesRC's ``--annot``): a header line, then one row per SNP, the SNP
id first and one numeric column per annotation (binary or continuous).

An intercept column (all ones) is added first when no column is constant 1, so that the
annotation-dependent mixture weights have a baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import open_text


def read_annotations(path) -> pd.DataFrame:
    """The annotation table of ``path``, indexed by SNP id, one float column per annotation
    (an ``Intercept`` column first when the file has no all-ones column).

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
    if not (table == 1.0).all(axis=0).any():
        table.insert(0, "Intercept", 1.0)
    return table


def annotation_matrix(table: pd.DataFrame, snps, path=None) -> tuple[np.ndarray, int]:
    """(M, A) annotations of ``snps`` (ids in model order) and how many SNPs the table lacks:
    those get the intercept alone (every other annotation 0), as unannotated SNPs."""
    snps = pd.Index(np.asarray(snps).astype(str))
    found = snps.isin(table.index)
    matrix = np.zeros((len(snps), table.shape[1]))
    matrix[found] = table.loc[snps[found]].to_numpy()
    constant = (table == 1.0).all(axis=0).to_numpy()
    matrix[~found] = np.where(constant, 1.0, 0.0)
    if not found.any():
        raise InputError("none of the analysed SNPs is in the annotation file", path)
    return matrix, int((~found).sum())


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
