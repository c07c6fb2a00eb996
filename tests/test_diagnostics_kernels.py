"""bayesmix.kernels.diagnostics equals ArviZ (arviz_stats, called as results.py used to call
it) on AR(1) chains of every shape diagnostics() meets: 1-4 chains, odd and even lengths,
Gaussian, heavy-tailed (Cauchy) and discrete (count) draws, and the degenerate inputs
(constant, too short, NaN) where ArviZ answers with the full sample size, inf or NaN."""

import arviz_stats  # noqa: F401 - registers the ``azstats`` accessor
import numpy as np
import pytest
import xarray as xr
from scipy.special import ndtri

from bayesmix.inference.chain import ChainResult, SnpAccumulator
from bayesmix.inference.results import ChainsResult
from bayesmix.kernels.diagnostics import _normal_quantile, ess_bulk, ess_tail, rhat

RTOL = 1e-8
KINDS = ("normal", "cauchy", "counts")


def arviz_diagnostics(values, tail_prob=None) -> list[float]:
    """[bulk ESS, tail ESS, R-hat] of a (chain, draw) array from arviz_stats."""
    stats = xr.DataArray(values, dims=("chain", "draw")).azstats
    return [float(stats.ess(method="bulk")), float(stats.ess(method="tail", prob=tail_prob)),
            float(stats.rhat())]


def our_diagnostics(values, tail_prob=0.89) -> list[float]:
    return [ess_bulk(values), ess_tail(values, tail_prob), rhat(values)]


def ar1(seed, n_chains, n_draws, phi, kind) -> np.ndarray:
    """(chain, draw) AR(1) chains x_t = phi x_t-1 + e_t with normal or Cauchy e_t, or Poisson
    counts with log-mean 0.5 x_t (many ties)."""
    rng = np.random.default_rng(seed)
    draw_noise = rng.standard_cauchy if kind == "cauchy" else rng.standard_normal
    noise = draw_noise((n_chains, n_draws))
    x = np.empty_like(noise)
    x[:, 0] = noise[:, 0]
    for t in range(1, n_draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return rng.poisson(np.exp(0.5 * x)).astype(np.float64) if kind == "counts" else x


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("phi", [-0.6, 0.0, 0.9, 0.99])
@pytest.mark.parametrize("n_draws", [4, 5, 9, 100, 401])
@pytest.mark.parametrize("n_chains", [1, 2, 3, 4])
def test_equals_arviz_on_ar1_chains(n_chains, n_draws, phi, kind):
    seed = [n_chains, n_draws, round(100 * phi) + 100, KINDS.index(kind)]
    values = ar1(seed, n_chains, n_draws, phi, kind)
    np.testing.assert_allclose(our_diagnostics(values), arviz_diagnostics(values), rtol=RTOL)


@pytest.mark.parametrize("n_chains", [1, 3])
def test_paper_tail_quantiles_equal_arviz(n_chains):
    values = ar1(7, n_chains, 301, 0.8, "normal")
    np.testing.assert_allclose(ess_tail(values, prob=0.95),
                               arviz_diagnostics(values, tail_prob=0.95)[1], rtol=RTOL)


DEGENERATE = {
    "constant": np.full((2, 10), 3.0),                              # ESS = all draws, R-hat NaN
    "one constant chain": np.r_[np.full((1, 12), 1.0), ar1(1, 1, 12, 0.5, "normal")],
    "chains constant at different values": np.r_[np.zeros((1, 8)), np.ones((1, 8))],  # inf
    "two values around the median": np.tile([0.0, 1.0], (2, 5)),    # folded R-hat NaN
    "binary with long runs": np.repeat(np.tile([0.0, 1.0], (3, 5)), 7, axis=1),
    "3 draws": ar1(2, 2, 3, 0.5, "normal"),
    "2 draws": ar1(3, 1, 2, 0.5, "normal"),
    "1 draw": ar1(4, 4, 1, 0.5, "normal"),
    "a NaN draw": np.r_[ar1(5, 1, 8, 0.5, "normal"), np.full((1, 8), np.nan)],
    "one chain of 7 constant draws": np.ones((1, 7)),
    "alternating signs": np.tile([1.0, -1.0], (1, 50)) + 1e-3 * ar1(6, 1, 100, 0.0, "normal"),
}


@pytest.mark.filterwarnings("ignore:.*scalar divide:RuntimeWarning")  # ArviZ's 0/0 and x/0
@pytest.mark.parametrize("name", list(DEGENERATE))
def test_equals_arviz_on_degenerate_input(name):
    values = DEGENERATE[name]
    np.testing.assert_allclose(our_diagnostics(values), arviz_diagnostics(values), rtol=RTOL)


def test_normal_quantile_equals_ndtri():
    p = np.concatenate([np.geomspace(1e-300, 0.5, 2000), np.linspace(1e-3, 1 - 1e-3, 2001)])
    p = np.concatenate([p, 1 - p[p > 1e-16]])
    np.testing.assert_allclose(_normal_quantile(p), ndtri(p), rtol=1e-14, atol=0)


def test_needs_a_chain_draw_array():
    with pytest.raises(ValueError, match="chain, draw"):
        ess_bulk(np.arange(10.0))


def chains_result(traces: list[dict]) -> ChainsResult:
    """A ChainsResult with the given per-chain traces (no SNPs, no fixed effects)."""
    chains = [ChainResult(k, t, np.zeros((len(t["hsq"]), 0)), np.arange(len(t["hsq"])),
                          SnpAccumulator.empty(1, 1)) for k, t in enumerate(traces)]
    return ChainsResult("C", None, chains, None, np.zeros(1), np.ones(1), [], 1)


def test_chains_result_diagnostics_equal_arviz():
    """Equal chain lengths: ArviZ's multi-chain estimates; an interrupted run (chains of 60,
    41, 3 and 0 draws): ESS summed over the chains with at least 4 varying draws, R-hat on
    those chains cut to the shortest."""
    hsq = ar1(8, 3, 60, 0.7, "normal")
    pi = ar1(9, 3, 60, 0.3, "counts") / 100
    complete = chains_result([{"hsq": h, "Pi": p, "Vg": np.ones(60)} for h, p in zip(hsq, pi)])
    table = complete.diagnostics().set_index("Parameter")
    for name, values in [("hsq", hsq), ("Pi", pi)]:
        bulk, tail, r_hat = arviz_diagnostics(values)
        np.testing.assert_allclose(table.loc[name, ["ESS_bulk", "ESS_tail", "R_hat"]],
                                   [bulk, tail, r_hat], rtol=RTOL)
    assert table.loc["Vg", ["ESS_bulk", "ESS_tail", "R_hat"]].isna().all()

    lengths = [60, 41, 3, 0]
    interrupted = chains_result([{"hsq": h[:n]} for h, n in zip([*hsq, hsq[0]], lengths)])
    row = interrupted.diagnostics().set_index("Parameter").loc["hsq"]
    per_chain = [arviz_diagnostics(h[None, :n]) for h, n in zip(hsq, lengths[:2])]
    assert row["ESS_bulk"] == pytest.approx(sum(d[0] for d in per_chain), rel=RTOL)
    assert row["ESS_tail"] == pytest.approx(sum(d[1] for d in per_chain), rel=RTOL)
    assert row["R_hat"] == pytest.approx(arviz_diagnostics(hsq[:2, :41])[2], rel=RTOL)
