"""Exact checks of the alphabet samplers against brute-force enumeration on tiny problems.

With hyperparameters fixed, the posterior over indicator configurations is available in
closed form: for a configuration c, the included effects and the flat-prior intercept are
integrated analytically, giving p(c | y) and E[beta | c, y]. Summing over all K^M
configurations gives exact PIPs and posterior mean effects, which the Gibbs chain must match
within Monte Carlo error (batch-means standard errors).
"""

import itertools

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Numba will use object mode")

from bayesmix.inference.chain import ChainSettings, run_chain
from bayesmix.inference.gibbs import EffectsGibbs, FixedEffectsGibbs, make_steps
from bayesmix.models.alphabet import AlphabetModel, AlphabetPrior
from bayesmix.prepare.alphabet_data import AlphabetData


def enumerate_posterior(x, y, gamma, pi, slab_var, sig2_e):
    """Exact PIP (M,), component probabilities (M, K) and posterior mean effects (M,)."""
    n, m = x.shape
    k = len(gamma)
    log_post, means, configs = [], [], []
    for config in itertools.product(range(k), repeat=m):
        config = np.array(config)
        var = gamma[config] * slab_var
        incl = np.flatnonzero(var > 0)
        z = np.column_stack([np.ones(n), x[:, incl]])
        precision = np.zeros(z.shape[1])
        precision[1:] = sig2_e / var[incl]
        a = z.T @ z + np.diag(precision)
        b = np.linalg.solve(a, z.T @ y)
        q = z.shape[1]
        log_ml = (0.5 * q * np.log(sig2_e) - 0.5 * np.linalg.slogdet(a)[1]
                  - 0.5 * np.log(var[incl]).sum() - (y @ y - b @ (z.T @ y)) / (2 * sig2_e))
        log_post.append(np.log(pi[config]).sum() + log_ml)
        mean = np.zeros(m)
        mean[incl] = b[1:]
        means.append(mean)
        configs.append(config)
    log_post = np.array(log_post)
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    configs = np.array(configs)
    comp_prob = np.stack([(w[:, None] * (configs == c)).sum(0) for c in range(k)], axis=1)
    pip = 1.0 - comp_prob[:, gamma == 0].sum(1)
    return pip, comp_prob, w @ np.array(means)


def tiny_problem(seed, n, m):
    rng = np.random.default_rng(seed)
    dosages = rng.binomial(2, rng.uniform(0.15, 0.5, m), size=(n, m)).astype(float)
    x = (dosages - dosages.mean(0)) / np.sqrt(2 * dosages.mean(0) / 2 * (1 - dosages.mean(0) / 2))
    beta = np.zeros(m)
    beta[[0, 2]] = [0.35, -0.25]
    y = 1.0 + x @ beta + rng.standard_normal(n)
    return dosages, y


def batch_means_se(draws, n_batches=40):
    batches = np.array_split(draws, n_batches)
    means = np.array([b.mean(0) for b in batches])
    return means.std(0, ddof=1) / np.sqrt(n_batches)


def run_fixed_hyper(method, dosages, y, pi, gamma, sig2_beta, sig2_e, iterations, seed):
    prior = AlphabetPrior(method, pi=pi, gamma=gamma, fix_pi=True)
    am = AlphabetModel(AlphabetData.from_arrays(dosages, y), prior)
    steps = [s for s in make_steps(am) if isinstance(s, (EffectsGibbs, FixedEffectsGibbs))]
    point = am.initial_point()
    point["sig2_beta"] = np.asarray(sig2_beta)
    point["sig2_e"] = np.asarray(sig2_e)
    am.initial_point = lambda: dict(point)
    settings = ChainSettings(chain_length=iterations, burn_in=500, thin=1, out_freq=0, seed=seed,
                             store_snp_draws=True)
    result = run_chain(am, steps, settings)
    draws = np.zeros((len(result.snp_draws), dosages.shape[1]))
    for row, (_, idx, values) in enumerate(result.snp_draws):
        draws[row, idx] = values
    return am, result, draws


@pytest.mark.parametrize("method,m,pi,gamma", [
    ("C", 8, 0.3, None),
    ("R", 5, (0.5, 0.2, 0.2, 0.1), (0.0, 0.01, 0.1, 1.0)),
])
def test_pip_and_means_match_enumeration(method, m, pi, gamma):
    dosages, y = tiny_problem(11, 80, m)
    sig2_beta, sig2_e = 0.08 if method == "C" else 0.5, 0.9
    am, result, draws = run_fixed_hyper(method, dosages, y, pi, gamma, sig2_beta, sig2_e,
                                        12_000, seed=5)
    x = am.data.genotypes.dense()
    pi_vec = am.prior.pi_values
    pip, comp_prob, mean = enumerate_posterior(x, y, am.gamma, pi_vec, sig2_beta, sig2_e)
    acc = result.snp
    pip_se = batch_means_se((draws != 0).astype(float))
    mean_se = batch_means_se(draws)
    assert np.all(np.abs(acc.pip - pip) < 5 * pip_se + 0.005), (acc.pip, pip, pip_se)
    assert np.all(np.abs(acc.mean - mean) < 5 * mean_se + 0.002), (acc.mean, mean, mean_se)
    assert 0.05 < pip.max() and pip.min() < 0.95  # a non-trivial posterior
    if method == "R":
        assert np.all(np.abs(acc.comp_prob - comp_prob) < 5 * pip_se.max() + 0.005)
