"""BayesN / BayesNS: the nested window sweep against a reference, and agreement with C / S."""

import numpy as np
import pandas as pd
import pytest

from bayesmix.inference.chain import ChainSettings, run_chains
from bayesmix.inference.gibbs import make_steps
from bayesmix.prepare.compact_genotypes import CompactGenotypes
from bayesmix.kernels.gibbs import sweep_nested_windows
from bayesmix.models.alphabet import AlphabetModel, AlphabetPrior
from bayesmix.prepare.alphabet_data import AlphabetData

pytestmark = pytest.mark.filterwarnings("ignore:Numba will use object mode")


def reference_nested_sweep(x, resid, beta, comp, window_ptr, window_on, gamma, snp_var, log_pi,
                           log_odds_window, sig2_e, rng):
    """The nested pass written with dense columns, consuming random numbers in the same order.
    ``log_pi``: (K,) shared or (M, K) per-SNP log weights."""
    for w in range(len(window_ptr) - 1):
        cols = np.arange(window_ptr[w], window_ptr[w + 1])
        if not np.any(beta[cols] != 0):
            window_on[w] = int(rng.random() < 1 / (1 + np.exp(-log_odds_window)))
        else:
            u = x[:, cols] @ beta[cols]
            r = resid + window_on[w] * u
            log_odds = log_odds_window + (2 * r @ u - u @ u) / (2 * sig2_e)
            window_on[w] = int(rng.random() < 1 / (1 + np.exp(-log_odds)))
            resid[:] = r - window_on[w] * u
        for j in cols:
            lp = log_pi[j] if np.ndim(log_pi) == 2 else log_pi
            pi = np.exp(lp)
            if window_on[w]:
                xj = x[:, j]
                xtx = xj @ xj
                rhs = xj @ resid + xtx * beta[j]
                log_w = np.array([lp[k] if gamma[k] == 0 else
                                  lp[k] - 0.5 * np.log(gamma[k] * snp_var[j] * (xtx + sig2_e / (gamma[k] * snp_var[j])) / sig2_e)
                                  + 0.5 * rhs**2 / (sig2_e * (xtx + sig2_e / (gamma[k] * snp_var[j])))
                                  for k in range(len(gamma))])
                wts = np.exp(log_w - log_w.max())
                k = min(int(np.searchsorted(np.cumsum(wts), rng.random() * wts.sum(), side="right")), len(wts) - 1)
                new = 0.0
                if gamma[k] > 0:
                    lhs = xtx + sig2_e / (gamma[k] * snp_var[j])
                    new = rhs / lhs + np.sqrt(sig2_e / lhs) * rng.standard_normal()
                resid -= xj * (new - beta[j])
                beta[j], comp[j] = new, k
            else:
                k = min(int(np.searchsorted(np.cumsum(pi), rng.random() * pi.sum(), side="right")), len(pi) - 1)
                comp[j] = k
                v = gamma[k] * snp_var[j]
                beta[j] = np.sqrt(v) * rng.standard_normal() if v > 0 else 0.0


@pytest.mark.parametrize("per_snp", [False, True])
def test_nested_sweep_matches_reference(per_snp):
    """Shared weights, or per-SNP weights (a composed prior) passed as snp_log_weights."""
    rng = np.random.default_rng(3)
    n, m = 70, 24
    dosages = rng.binomial(2, rng.uniform(0.1, 0.5, m), size=(n, m)).astype(float)
    geno = CompactGenotypes.from_dosages(dosages)
    x = geno.dense()
    window_ptr = np.array([0, 5, 6, 14, 24])
    gamma = np.array([0.0, 1.0])
    log_pi = np.log(rng.dirichlet([7, 3], size=m)) if per_snp else np.log([0.7, 0.3])
    shared, rows = (log_pi[0], log_pi) if per_snp else (log_pi, None)
    snp_var = np.full(m, 0.2)
    beta = np.where(rng.random(m) < 0.3, rng.standard_normal(m) * 0.3, 0.0)
    beta[5] = 0.0  # window 1 has no effect: its indicator is drawn from the prior
    window_on = np.array([1, 0, 1, 0], dtype=np.int64)
    y = x @ rng.standard_normal(m) * 0.2 + rng.standard_normal(n)
    gated = beta * np.repeat(window_on, np.diff(window_ptr))
    for rep in range(3):
        state_fast = [y - x @ gated, beta.copy(), np.zeros(m, np.int64), window_on.copy()]
        state_ref = [s.copy() for s in state_fast]
        nnz, n_on = sweep_nested_windows(geno.codes, geno.center, geno.scale, geno.missing_ptr,
                                         geno.missing_idx, geno.xtx, geno.colsum, *state_fast[:3],
                                         window_ptr, state_fast[3], gamma, snp_var, shared, -0.5,
                                         0.9, np.random.default_rng(rep), rows)
        reference_nested_sweep(x, *state_ref[:3], window_ptr, state_ref[3], gamma, snp_var, log_pi,
                               -0.5, 0.9, np.random.default_rng(rep))
        np.testing.assert_array_equal(state_fast[3], state_ref[3])
        np.testing.assert_array_equal(state_fast[2], state_ref[2])
        np.testing.assert_allclose(state_fast[1], state_ref[1], atol=1e-10)
        np.testing.assert_allclose(state_fast[0], state_ref[0], atol=1e-9)
        gated_new = state_fast[1] * np.repeat(state_fast[3], np.diff(window_ptr))
        np.testing.assert_allclose(state_fast[0], y - x @ gated_new, atol=1e-9)
        assert n_on == state_fast[3].sum() and nnz == np.count_nonzero(gated_new)
        beta, window_on, gated = state_fast[1], state_fast[3], gated_new


def windowed_data(seed, standardize):
    rng = np.random.default_rng(seed)
    n, m = 600, 400
    dosages = rng.binomial(2, rng.uniform(0.1, 0.5, m), size=(n, m)).astype(float)
    beta = np.zeros(m)
    beta[[5, 7, 200]] = [0.4, -0.3, 0.35]
    y = (dosages - dosages.mean(0)) @ beta + rng.standard_normal(n)
    snps = pd.DataFrame({"chr": "1", "snp": [f"s{j}" for j in range(m)],
                         "bp": np.arange(m) * 10_000 + 1, "a1": "A", "a2": "G"})
    return AlphabetData.from_arrays(dosages, y, standardize=standardize, snps=snps)


@pytest.mark.slow
@pytest.mark.parametrize("nested,flat", [("N", "C"), ("NS", "S")])
def test_nested_models_agree_with_flat_models_and_skip_windows(nested, flat):
    data = windowed_data(8, standardize=(flat == "C"))
    settings = ChainSettings(chain_length=3500, burn_in=1500, thin=1, out_freq=0, seed=4)
    res_nested = run_chains(AlphabetModel(data, AlphabetPrior(nested, wind=0.2)), make_steps, settings)
    res_flat = run_chains(AlphabetModel(data, flat), make_steps, settings)
    h_nested, h_flat = res_nested.trace("hsq"), res_flat.trace("hsq")
    se = np.hypot(*[np.array([b.mean() for b in np.array_split(h, 10, axis=1)]).std(ddof=1) / np.sqrt(10)
                    for h in (h_nested, h_flat)])
    assert abs(h_nested.mean() - h_flat.mean()) < 4 * se + 0.01
    pip_nested = res_nested.snp_summary()["PIP"].to_numpy()
    pip_flat = res_flat.snp_summary()["PIP"].to_numpy()
    assert pip_nested[[5, 200]].min() > 0.9 and pip_flat[[5, 200]].min() > 0.9
    n_windows = res_nested.snp_summary()["Window"].max()
    assert n_windows == 20
    assert res_nested.trace("NNZwind").mean() < 0.5 * n_windows  # most windows are skipped


def test_pi_is_the_share_of_windows_with_an_effect():
    """Simulated with bayesmix.simulate's BayesN prior and a known share of active windows
    (15 of 60), the reported Pi (GCTB's meaning) recovers the window share and PiSnp the
    within-window SNP share (0.5), each far from the other's truth and from the overall SNP
    share (0.125)."""
    from bayesmix.simulate.effects import bayesn_effects, window_ids

    rng = np.random.default_rng(5)
    n, m = 1000, 600
    dosages = rng.binomial(2, rng.uniform(0.1, 0.5, m), size=(n, m)).astype(float)
    bp = np.arange(m) * 10_000 + 1  # 10 SNPs per 0.1 Mb window
    freq = dosages.mean(0) / 2
    effects = bayesn_effects(2 * freq * (1 - freq), 0.7, rng=rng, n_causal=15, pi_snp=0.5,
                             windows=window_ids(np.ones(m, int), bp, window_kb=100.0))
    g = (dosages - dosages.mean(0)) @ effects.beta
    y = g + rng.standard_normal(n) * np.sqrt(g.var() * 0.3 / 0.7)
    snps = pd.DataFrame({"chr": "1", "snp": [f"s{j}" for j in range(m)], "bp": bp,
                         "a1": "A", "a2": "G"})
    data = AlphabetData.from_arrays(dosages, y, snps=snps)
    # GCTB's windows start at a SNP: 0.095 Mb gives the simulator's 10-SNP windows
    model = AlphabetModel(data, AlphabetPrior("N", wind=0.095, pi=0.5, pi_snp=0.05))
    assert model.n_windows == 60
    np.testing.assert_array_equal(model.snp_window, np.repeat(np.arange(60), 10))
    res = run_chains(model, make_steps, ChainSettings(chain_length=1500, burn_in=500, thin=2,
                                                      out_freq=0, seed=2))
    pi, nnz_wind, pi_snp = (res.trace(name).mean() for name in ("Pi", "NNZwind", "PiSnp"))
    assert abs(pi - 15 / 60) < 0.08 and abs(nnz_wind - 15) < 5
    assert abs(pi_snp - 0.5) < 0.2


def test_nested_pi_options():
    """--pi is the window share (one value), --pi-snp the within-window SNP share; the window
    share is fixed by --fix-pi and the SNP share by --fix-pi-snp."""
    from bayesmix.cli.gctb import SPEC
    from bayesmix.cli.options import build_parser
    from bayesmix.errors import InputError

    args = build_parser(SPEC).parse_args("--bayes N --pi 0.2 --pi-snp 0.1 --fix-pi".split())
    prior = AlphabetPrior(args.bayes, pi=args.pi, pi_snp=args.pi_snp, fix_pi=args.fix_pi)
    assert prior.pi_window_start == 0.2 and np.allclose(prior.pi_values, [0.9, 0.1])
    assert not prior.snp_weights_fixed
    data = windowed_data(1, standardize=True)
    model = AlphabetModel(data, AlphabetPrior("N", wind=0.2, pi=0.2, pi_snp=0.1, fix_pi=True))
    assert "pi_window" not in [rv.name for rv in model.model.free_RVs]
    res = run_chains(model, make_steps, ChainSettings(chain_length=60, burn_in=20, thin=1,
                                                      out_freq=0, seed=1))
    assert np.all(res.trace("Pi") == 0.2) and np.ptp(res.trace("PiSnp")) > 0
    fixed_snp = AlphabetModel(data, AlphabetPrior("N", wind=0.2, pi_snp=0.1, fix_pi_snp=True))
    assert "pi" not in [rv.name for rv in fixed_snp.model.free_RVs]
    assert "pi_window" in [rv.name for rv in fixed_snp.model.free_RVs]
    with pytest.raises(InputError, match="share of windows"):
        AlphabetPrior("N", pi=(0.95, 0.05))
    with pytest.raises(InputError, match="BayesN and BayesNS only"):
        AlphabetPrior("C", pi_snp=0.1)
