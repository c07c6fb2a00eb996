"""GCTB's --rsq high-LD filter (bayesmix.ld.pruning.high_ld_filter) against a slow literal
transcription of the rule, hand-worked examples, and the property that defines it."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.ld import build_ld
from bayesmix.ld.pruning import high_ld_filter
from bayesmix.ld.store import LDMatrix


def reference_filter(ld, rsq_threshold, priority, compare_with_removed):
    """The rule read off GCTB's Data::filterSnpByLDrsq, one SNP pair at a time, in Python."""
    m = ld.shape[0]
    included = [True] * m
    for i in range(m):
        if not included[i]:
            continue
        columns, r = ld.row(i)
        for j, r_ij in zip(columns.tolist(), r.astype(np.float64).tolist()):
            if not compare_with_removed and not included[j]:
                continue
            if i != j and r_ij * r_ij > rsq_threshold:
                if priority[i] < priority[j]:
                    included[j] = False
                else:
                    included[i] = False
    return np.array(included)


def snp_table(m):
    return pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1", "bp": np.arange(m) + 1,
                         "a1": "A", "a2": "G", "freq": 0.3})


def ld_from_dense(r, kind="full"):
    return LDMatrix.from_scipy(sp.csr_matrix(r), snp_table(len(r)), meta={"kind": kind})


@pytest.fixture(scope="module")
def real_ld(bfile22):
    """Full LD of 600 SNPs of the shipped chr22 (many pairs above r^2 0.5 .. 0.95)."""
    ids = set(Genotypes.open(bfile22).snps["snp"].iloc[2000:2600])
    return build_ld(Genotypes.open(bfile22, extract=ids), "full", progress=False)


@pytest.mark.parametrize("dtype", ["float32", "int16"])
@pytest.mark.parametrize("compare_with_removed", [False, True])
def test_kernel_matches_literal_rule_on_real_ld(real_ld, dtype, compare_with_removed):
    ld = real_ld.astype(dtype)
    rng = np.random.default_rng(1)
    for threshold in (0.5, 0.8, 0.95):
        # p-values with many ties (rounded), as in .ma files
        p = np.round(rng.uniform(0, 1, ld.shape[0]) ** 3, 2)
        for priority in (p, None):
            kept, n_dropped = high_ld_filter(ld, threshold, priority,
                                             compare_with_removed=compare_with_removed)
            expected = reference_filter(ld, threshold, np.zeros(ld.shape[0])
                                        if priority is None else priority,
                                        compare_with_removed)
            np.testing.assert_array_equal(kept, expected)
            assert n_dropped == (~expected).sum() > 0
            # the defining property: no kept pair above the threshold
            r2 = ld.r2().toarray().astype(np.float64)
            np.fill_diagonal(r2, 0.0)
            assert r2[np.ix_(kept, kept)].max() <= threshold + 1e-6


def test_sparse_ld_uses_gctb_sparse_rule(bfile22):
    ids = set(Genotypes.open(bfile22).snps["snp"].iloc[:800])
    ld = build_ld(Genotypes.open(bfile22, extract=ids), "sparse", dtype="int16", progress=False)
    p = np.random.default_rng(2).uniform(size=ld.shape[0])
    kept, _ = high_ld_filter(ld, 0.6, p)
    np.testing.assert_array_equal(kept, reference_filter(ld, 0.6, p, True))


def test_hand_worked_examples():
    """A chain A - B - C (r^2 0.81 each side, A-C 0.25) under both GCTB rules."""
    r = np.array([[1.0, 0.9, 0.5], [0.9, 1.0, 0.9], [0.5, 0.9, 1.0]])
    # p(A) < p(B) < p(C): row A removes B; row C is never compared with removed B
    # (dense rule), so A and C stay; the sparse rule compares C with removed B and drops C.
    p = np.array([0.01, 0.02, 0.03])
    assert high_ld_filter(ld_from_dense(r), 0.8, p)[0].tolist() == [True, False, True]
    assert high_ld_filter(ld_from_dense(r, "sparse"), 0.8, p)[0].tolist() == [True, False, False]
    # the middle SNP is the most significant: it removes both neighbours
    kept, n = high_ld_filter(ld_from_dense(r), 0.8, [0.5, 1e-8, 0.5])
    assert kept.tolist() == [False, True, False] and n == 2
    # ties: the row SNP goes, so the last of the group in matrix order stays
    assert high_ld_filter(ld_from_dense(r), 0.8)[0].tolist() == [False, False, True]
    # strictly greater: r^2 = 0.81 is not above 0.81 (in float64 of the stored float32 0.9)
    assert high_ld_filter(ld_from_dense(r), float(np.float32(0.9)) ** 2, p)[1] == 0
    # a threshold of 1 removes nothing
    assert high_ld_filter(ld_from_dense(r), 1.0, p)[1] == 0


def test_bad_inputs():
    r = np.array([[1.0, 0.9], [0.9, 1.0]])
    with pytest.raises(InputError, match="NaN"):
        high_ld_filter(ld_from_dense(r), 0.5, [0.1, np.nan])
    with pytest.raises(InputError, match=">= 0"):
        high_ld_filter(ld_from_dense(r), -0.1)
    thresholded = LDMatrix.from_scipy(sp.csr_matrix(r), snp_table(2), meta={"min_r2": 0.3})
    with pytest.raises(InputError, match="only stores"):
        high_ld_filter(thresholded, 0.2)
