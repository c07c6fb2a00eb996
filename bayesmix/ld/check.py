"""Check that a SNP table (e.g. aligned summary statistics) agrees with an LD matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.ld.store import LDMatrix


def match_snps(ld: LDMatrix, table: pd.DataFrame, *, path=None) -> np.ndarray:
    """Row positions in ``ld`` of the SNPs of ``table``, after checking they agree.

    ``table`` needs a ``snp`` column (case-insensitive); ``a1``/``a2`` and ``chr``/``bp`` are
    compared when present. Alleles must equal the LD matrix's A1/A2 exactly: align the
    summary statistics to the LD reference first (``bayesmix.io`` harmonisation flips signs
    of swapped alleles). Every disagreement raises :class:`InputError` naming ``path``, the
    1-based line (header = line 1) and the column.
    """
    cols = {c.lower(): c for c in table.columns}
    if "snp" not in cols:
        raise InputError("SNP table has no SNP column", path, 1)

    def where(i, name):
        col = cols[name]
        return dict(path=path, line=int(i) + 2 if path is not None else None,
                    column=list(table.columns).index(col) + 1)

    snps = table[cols["snp"]].astype(str).to_numpy()
    dup = pd.Series(snps).duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError(f"SNP {snps[i]} appears twice", **where(i, "snp"))
    pos = pd.Index(ld.snps["snp"]).get_indexer(snps)
    if (pos < 0).any():
        i = int(np.flatnonzero(pos < 0)[0])
        raise InputError(f"{int((pos < 0).sum())} SNPs are not in the LD matrix (first: "
                         f"{snps[i]}); restrict the table to the LD SNPs first",
                         **where(i, "snp"))
    ref = ld.snps.iloc[pos]
    for name, ref_col in (("chr", "chr"), ("bp", "bp"), ("a1", "a1"), ("a2", "a2")):
        if name not in cols:
            continue
        values = table[cols[name]].astype(str).str.upper().to_numpy()
        expect = ref[ref_col].astype(str).str.upper().to_numpy()
        bad = values != expect
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            hint = " (alleles swapped: align the table to the LD reference)" if name in (
                "a1", "a2") else ""
            raise InputError(f"{int(bad.sum())} SNPs disagree with the LD matrix on {name}; "
                             f"first {snps[i]}: {values[i]} here, {expect[i]} in the LD "
                             f"matrix{hint}", **where(i, name))
    return pos
