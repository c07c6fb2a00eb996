"""SBayes sweep vs brute-force enumeration on tiny problems with fixed hyperparameters.

The exact posterior: for each assignment of SNPs to mixture components, the effects are
Gaussian given the assignment and integrate out analytically from the summary-data
likelihood (which, with in-sample LD, is the individual-level likelihood up to a constant):

    log p(y | a) = -1/2 log|I + V_a X'X / s2e| + 1/(2 s2e) u' (X'X + s2e V_a^-1)^-1 u,
    u = X'y restricted to the active SNPs, E[beta_a | a] = (X'X + s2e V_a^-1)^-1 u.
"""

import itertools

import numpy as np
import pytest

from bayesmix.io.plink import Genotypes
from bayesmix.kernels.sbayes import mixture_terms, sbayes_sweep


def enumerate_posterior(xtx, xty, pi, comp_var, snp_var_scale, s2e):
    """Exact PIPs (P(beta_j != 0)) and posterior means by summing over all assignments."""
    m = len(xty)
    log_w, means = [], []
    for assign in itertools.product(range(len(pi)), repeat=m):
        assign = np.array(assign)
        var = comp_var[assign] * snp_var_scale
        act = np.flatnonzero(var > 0)
        lw = np.log(pi[assign]).sum()
        mean = np.zeros(m)
        if act.size:
            a = xtx[np.ix_(act, act)]
            c = a + s2e * np.diag(1 / var[act])
            sol = np.linalg.solve(c, xty[act])
            _, logdet = np.linalg.slogdet(np.eye(act.size) + np.diag(var[act]) @ a / s2e)
            lw += -0.5 * logdet + 0.5 / s2e * xty[act] @ sol
            mean[act] = sol
        log_w.append(lw)
        means.append(mean)
    w = np.exp(np.array(log_w) - max(log_w))
    w /= w.sum()
    means = np.array(means)
    pip = w @ (means != 0)
    return pip, w @ means


def run_chain(xtx, xty, pi, comp_var, snp_var_scale, s2e, n_iter, seed):
    """Fixed-hyperparameter Gibbs chain of the sparse-LD kernel on a dense X'X."""
    m = len(xty)
    s = np.sqrt(np.diag(xtx))
    r_ld = xtx / np.outer(s, s)
    indptr = np.arange(0, m * m + 1, m, dtype=np.int64)
    indices = np.tile(np.arange(m, dtype=np.int32), m)
    values = r_ld.astype(np.float64).ravel()
    beta, comp, r = np.zeros(m), np.zeros(m, np.int64), xty.copy()
    rng = np.random.default_rng(seed)
    beta_draws, nz_draws = np.empty((n_iter, m)), np.empty((n_iter, m))
    vare = np.full(m, s2e)
    for it in range(n_iter):
        sbayes_sweep(indptr, indices, values, 1.0, s, np.diag(xtx).copy(), 0.0, r, beta, comp,
                     mixture_terms(np.log(pi), comp_var), snp_var_scale, vare, rng.random(m),
                     rng.random(m))
        beta_draws[it] = beta
        nz_draws[it] = beta != 0
    return nz_draws, beta_draws


def batch_se(draws, n_batches=50):
    """Monte Carlo standard error of the mean of each column by batch means."""
    batches = draws[: len(draws) // n_batches * n_batches].reshape(n_batches, -1, draws.shape[1])
    return batches.mean(axis=1).std(axis=0, ddof=1) / np.sqrt(n_batches)


@pytest.fixture(scope="module")
def tiny_problem(bfile22):
    """8 nearby SNPs of the shipped chr22 panel (no pair with |r| > 0.9, so the problem is
    identifiable); X'y from effects of 2 of them (n = 503)."""
    geno = Genotypes.open(bfile22)
    x = geno.read(np.arange(2000, 2100), standardize=False).astype(np.float64)
    x = (x - x.mean(0)) / x.std(0)
    corr = np.corrcoef(x, rowvar=False)
    keep = [0]
    for j in range(1, x.shape[1]):
        if len(keep) < 8 and np.abs(corr[j, keep]).max() < 0.9:
            keep.append(j)
    x = x[:, keep]
    assert np.abs(np.corrcoef(x, rowvar=False) - np.eye(8)).max() > 0.3  # there is LD
    rng = np.random.default_rng(5)
    beta = np.zeros(x.shape[1])
    beta[[1, 5]] = [0.3, -0.25]
    y = x @ beta + rng.normal(0, 1, len(x))
    return x.T @ x, x.T @ y


@pytest.mark.parametrize("prior", ["C", "R", "S"])
def test_sweep_matches_enumeration(tiny_problem, prior):
    xtx, xty = tiny_problem
    m = len(xty)
    s2e = 1.0
    scale = np.ones(m)
    if prior == "R":
        xtx, xty = xtx[:6, :6], xty[:6]
        m, scale = 6, np.ones(6)
        pi, comp_var = np.array([0.6, 0.3, 0.1]), np.array([0.0, 0.002, 0.02])
    else:
        pi, comp_var = np.array([0.7, 0.3]), np.array([0.0, 0.01])
        if prior == "S":
            scale = np.linspace(0.3, 1.5, m)  # H_j^(S+1)-like per-SNP multipliers
    pip, mean = enumerate_posterior(xtx, xty, pi, comp_var, scale, s2e)
    nz, draws = run_chain(xtx, xty, pi, comp_var, scale, s2e, n_iter=20_000, seed=1)
    nz, draws = nz[1000:], draws[1000:]
    tol_pip = 4.5 * batch_se(nz) + 0.005
    tol_mean = 4.5 * batch_se(draws) + 1e-3
    np.testing.assert_array_less(np.abs(nz.mean(0) - pip), tol_pip)
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), tol_mean)
    assert pip.max() > 0.5  # the problem is informative: some SNP is clearly selected
