"""numba kernel of GCTB's high-LD SNP filter (``--rsq``) on a square symmetric CSR LD matrix.

``values`` are the stored int16 codes (r = code * ``value_scale``) or float32 r; ``indices``
ascend within a row. The rule is documented in :func:`bayesmix.ld.pruning.high_ld_filter`.
"""

from __future__ import annotations

from bayesmix.kernels.jit import njit


@njit
def high_ld_filter_pass(indptr, indices, values, value_scale, priority, rsq_threshold,
                        compare_with_removed, kept):
    """One greedy pass over rows in matrix order; clears ``kept[j]`` for the SNPs removed.

    For each row i still kept, for each stored column j != i (ascending) with
    r_ij^2 > ``rsq_threshold`` (skipping j already removed unless ``compare_with_removed``):
    remove j if priority[i] < priority[j], else remove i (the scan of row i goes on either
    way). ``kept`` (bool[M]) is updated in place; SNPs already False at entry count as removed.
    """
    m = indptr.shape[0] - 1
    for i in range(m):
        if not kept[i]:
            continue
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            if j == i or not (compare_with_removed or kept[j]):
                continue
            r = values[p] * value_scale
            if r * r > rsq_threshold:
                if priority[i] < priority[j]:
                    kept[j] = False
                else:
                    kept[i] = False
