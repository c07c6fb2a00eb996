"""LD scores from any stored LD matrix (per row/tag SNP, summed over the stored columns).

- ``ldsc``:    l_j = sum_i r_ij^2                (LD-score regression, no small-sample correction)
- ``het_r2``:  l_j = sum_i H_i r_ij^2            (MiXeR's LD score, H_i = 2 p_i (1 - p_i))
- ``het2_r4``: sum_i H_i^2 r_ij^4                (MiXeR's fast-model fourth moment)

i runs over the reference (column) SNPs stored in row j, the diagonal included; entries not
stored (outside the window or below the threshold) count as 0, so scores from a thresholded
matrix are lower bounds of the full-matrix scores. H uses the A1 frequency of the column SNP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesmix.kernels.ld import weighted_r_power_sums
from bayesmix.ld.store import LDMatrix


def ld_scores(ld: LDMatrix) -> pd.DataFrame:
    """Table of the row SNPs (snp chr bp a1 a2) with columns ldsc, het_r2 and het2_r4."""
    indptr, indices, r = ld.csr_arrays()
    indptr = np.asarray(indptr, dtype=np.int64)
    p = ld.ref_snps["freq"].to_numpy(dtype=np.float64)
    het = 2.0 * p * (1.0 - p)
    table = ld.snps[["snp", "chr", "bp", "a1", "a2"]].copy()
    table["ldsc"] = weighted_r_power_sums(indptr, indices, r, np.ones_like(het), 2)
    table["het_r2"] = weighted_r_power_sums(indptr, indices, r, het, 2)
    table["het2_r4"] = weighted_r_power_sums(indptr, indices, r, het * het, 4)
    return table
