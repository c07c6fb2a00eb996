"""LD scores, random-pruning weights and the SNP-table check."""

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.ld import LDMatrix, build_ld, ld_scores, match_snps, random_pruning_weights


def snp_table(m, freq=None):
    freq = np.linspace(0.1, 0.5, m) if freq is None else freq
    return pd.DataFrame({"snp": [f"s{i}" for i in range(m)], "chr": "1",
                         "bp": np.arange(m) * 100 + 1, "a1": "A", "a2": "C", "freq": freq,
                         "n": 100})


def test_ld_scores_match_dense_sums(bfile22):
    genotypes = Genotypes.open(bfile22, extract=set(Genotypes.open(bfile22).snps["snp"][:400]))
    ld = build_ld(genotypes, "window", window_kb=250, progress=False)
    r = ld.to_scipy().toarray().astype(np.float64)
    p = genotypes.snps["freq"].to_numpy()
    het = 2 * p * (1 - p)
    scores = ld_scores(ld)
    np.testing.assert_allclose(scores["ldsc"], (r**2).sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(scores["het_r2"], (het[None, :] * r**2).sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(scores["het2_r4"], (het[None, :] ** 2 * r**4).sum(axis=1),
                               rtol=1e-6)
    assert list(scores["snp"]) == list(genotypes.snps["snp"])


def exact_keep_probability(r2, max_r2):
    """P(SNP kept) averaged over all visiting orders (brute-force enumeration)."""
    m = len(r2)
    counts = np.zeros(m)
    perms = list(itertools.permutations(range(m)))
    for order in perms:
        kept = []
        for i in order:
            if all(r2[k, i] < max_r2 for k in kept):
                kept.append(i)
        counts[kept] += 1
    return counts / len(perms)


def test_pruning_weights_converge_to_the_exact_keep_probability():
    r = np.eye(6)
    for i, j, v in [(0, 1, 0.9), (1, 2, 0.5), (2, 3, 0.2), (3, 4, 0.05), (0, 5, 0.4),
                    (4, 5, 0.31)]:
        r[i, j] = r[j, i] = v
    ld = LDMatrix.from_scipy(sp.csr_matrix(r), snp_table(6))
    exact = exact_keep_probability(r**2, 0.1)
    weights = random_pruning_weights(ld, n_passes=20_000, seed=1)
    se = np.sqrt(exact * (1 - exact) / 20_000)
    assert np.all(np.abs(weights - exact) <= 4 * se + 1e-12)
    np.testing.assert_array_equal(weights, random_pruning_weights(ld, n_passes=20_000, seed=1))
    assert not np.array_equal(weights, random_pruning_weights(ld, n_passes=20_000, seed=2))
    eligible = np.array([True, False, True, True, True, True])
    w = random_pruning_weights(ld, n_passes=50, seed=0, eligible=eligible)
    assert w[1] == 0


def test_pruning_refuses_a_matrix_thresholded_above_max_r2():
    ld = LDMatrix.from_scipy(sp.identity(3, format="csr"), snp_table(3), meta={"min_r2": 0.2})
    with pytest.raises(InputError, match="lower threshold"):
        random_pruning_weights(ld)


def test_match_snps_checks_ids_alleles_and_positions(tmp_path):
    ld = LDMatrix.from_scipy(sp.identity(4, format="csr"), snp_table(4))
    table = pd.DataFrame({"SNP": ["s2", "s0"], "A1": ["A", "A"], "A2": ["C", "C"]})
    np.testing.assert_array_equal(match_snps(ld, table), [2, 0])
    path = tmp_path / "gwas.ma"
    with pytest.raises(InputError, match="not in the LD matrix") as err:
        match_snps(ld, pd.DataFrame({"SNP": ["s1", "sX"]}), path=path)
    assert err.value.line == 3 and err.value.column == 1
    swapped = pd.DataFrame({"SNP": ["s1", "s3"], "A1": ["A", "C"], "A2": ["C", "A"]})
    with pytest.raises(InputError, match="swapped") as err:
        match_snps(ld, swapped, path=path)
    assert err.value.line == 3 and err.value.column == 2
    with pytest.raises(InputError, match="appears twice"):
        match_snps(ld, pd.DataFrame({"snp": ["s1", "s1"]}))
    with pytest.raises(InputError, match="on bp"):
        match_snps(ld, pd.DataFrame({"snp": ["s1"], "bp": [5]}))
