"""The alphabet examples run on small data, and recovery of known truth from simulations."""

import importlib.util
import re
from pathlib import Path

import arviz as az
import numpy as np
import pytest
from scipy import stats

pytestmark = pytest.mark.filterwarnings("ignore:Numba will use object mode")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_composing_example_runs_and_recovers_hsq():
    out = load_example("alphabet_composing").main(["--snps", "800", "--iterations", "450"])
    for key in ("hsq_default", "hsq_swapped"):
        assert abs(out[key] - out["hsq_true"]) < 0.12
    # the swapped Uniform(0, 0.2) prior on pi: given k non-zero effects of M, pi is
    # Beta(1 + k, 1 + M - k) cut at 0.2; pm.sample's Metropolis draws of pi must average to the
    # mean of those conditional means (Monte Carlo SE from the ESS of the difference)
    k = out["nnz_draws_pm_sample"]
    a, b = 1.0 + k, 1.0 + out["n_snps"] - k
    given_k = a / (a + b) * stats.beta.cdf(0.2, a + 1, b) / stats.beta.cdf(0.2, a, b)
    difference = (out["pi_draws_pm_sample"] - given_k)[None, :]
    se = difference.std() / np.sqrt(float(az.ess(difference)))
    assert abs(difference.mean()) < 4 * se, (difference.mean(), se)
    assert len(set(out["top_snps_default"]) & set(out["causal_snps"])) >= 2


@pytest.mark.slow
def test_recovery_on_simulated_cohort():
    """2,000 people x 3,000 SNPs (block LD), 30 causal SNPs, h2 = 0.5."""
    rows = load_example("alphabet_recovery").recover(n=2000, m=3000, causal=30, h2=0.5,
                                                     chain_length=900, burn_in=300, quiet=True)
    for row in rows:
        hsq = float(row["hsq_est"].split()[0])
        assert abs(hsq - row["hsq_true"]) < 0.08, row
        assert row["mean_pip_causal"] > 0.3, row
    nnz_c = float(rows[0]["nnz_est"].split()[0])
    assert 0.5 * 30 < nnz_c < 2.5 * 30
    # BayesS on a BayesS truth (S = -0.5, 30 causal SNPs): the truth inside the posterior's
    # 90% interval, and the interval narrower than the N(0, 1) prior's (3.29): the data inform S
    s_mean, lo, hi = (float(x) for x in re.findall(r"-?\d+\.\d+", rows[2]["S_est"]))
    assert lo < rows[2]["S_true"] < hi and hi - lo < 2.0, rows[2]


@pytest.mark.parametrize("true_s", [-1.0, -0.5, 0.5])
def test_s_given_true_effects_is_centred_on_the_truth(true_s):
    """The density examples/alphabet_bayess_ld.py integrates: with 3,000 effects drawn from
    the BayesS prior (per allele, var = sig2_beta H^S), p(S | beta) concentrates on the true S."""
    s_posterior = load_example("alphabet_bayess_ld").s_posterior_given_effects
    rng = np.random.default_rng(int(10 * true_s) + 20)
    het = 2 * (p := rng.uniform(0.01, 0.5, 3000)) * (1 - p)
    beta = rng.standard_normal(3000) * np.sqrt(1e-3 * het**true_s)
    mean, lo, hi = s_posterior(beta, het, nu=4.0, s2=5e-4)
    assert lo < true_s < hi and hi - lo < 0.25, (mean, lo, hi)
