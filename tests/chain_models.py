"""Tiny BayesR, SBayesR and eigen-LD SBayesR models and checks shared by the interrupt and
checkpoint tests."""

import os
import signal
import threading
import time

import numpy as np
import pandas as pd

from bayesmix.inference.chain import checkpoint_path, read_checkpoint
from bayesmix.ld.store import LDMatrix
from bayesmix.models.alphabet import AlphabetModel, AlphabetPrior
from bayesmix.models.sbayes import SBayesModel
from bayesmix.prepare.alphabet_data import AlphabetData
from bayesmix.prepare.summary_data import SummaryData

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def cohort(seed=0, n=150, m=200):
    """(dosages, standardised genotypes, standardised y, SNP table): 5 causal SNPs."""
    rng = np.random.default_rng(seed)
    dosages = rng.binomial(2, rng.uniform(0.1, 0.5, m), size=(n, m)).astype(float)
    x = (dosages - dosages.mean(0)) / dosages.std(0)
    y = x[:, :5] @ np.full(5, 0.3) + rng.normal(size=n)
    y = (y - y.mean()) / y.std()
    snps = pd.DataFrame({"chr": 22, "snp": [f"rs{j}" for j in range(m)],
                         "bp": np.arange(m) * 1000 + 1, "a1": "A", "a2": "G",
                         "freq": dosages.mean(0) / 2})
    return dosages, x, y, snps


def bayes_r(seed=0, y=None, **prior):
    """Individual-level BayesR on 150 x 200 genotypes (``y`` replaces the phenotype)."""
    dosages, _, y0, snps = cohort(seed)
    data = AlphabetData.from_arrays(dosages, y0 if y is None else y)
    return AlphabetModel(data, AlphabetPrior("R", **prior))


def summary_data(seed=0, m=None):
    """SummaryData holding X'X, X'y, y'y of the cohort (in-sample LD), first ``m`` SNPs."""
    _, x, y, snps = cohort(seed)
    if m is not None:
        x, snps = x[:, :m], snps.iloc[:m]
    n, m = x.shape
    ld = LDMatrix.from_scipy(x.T @ x / n, snps.assign(n=n), meta={"kind": "full", "n_samples": n})
    stats = pd.DataFrame({"SNP": snps["snp"], "CHR": snps["chr"], "BP": snps["bp"],
                          "A1": snps["a1"], "A2": snps["a2"], "FREQ": snps["freq"],
                          "BETA": np.nan, "SE": np.nan, "Z": np.nan, "N": float(n),
                          "H": 2 * snps["freq"] * (1 - snps["freq"]), "V": np.nan,
                          "B_STD": x.T @ y / n})
    return SummaryData(stats=stats, ld=ld, n=np.full(m, float(n)), xty=x.T @ y,
                       xtx_diag=np.diag(x.T @ x).copy(), nobs=float(n), yty=float(y @ y),
                       vp=1.0, ld_score=np.zeros(m), ld_sampling_var=np.ones(m))


def sbayes_r(seed=0, **options):
    options.setdefault("robust", False)
    return SBayesModel(summary_data(seed), "R", **options)


def sbayes_eigen_r(seed=0):
    """SBayesR on eigen-decomposed in-sample LD of the cohort: 4 blocks of 50 SNPs, the
    eigenpairs of 80% of each block's LD kept (fewer than the 150 people in all)."""
    from bayesmix.ld.eigen import EigenBlocks, decompose_ld
    from bayesmix.models.sbayes_eigen import SBayesEigenModel
    from bayesmix.prepare.eigen_data import prepare_eigen_data
    from bayesmix.simulate.from_ld import sumstats_table

    _, x, y, snps = cohort(seed)
    n, m = x.shape
    parts = [decompose_ld(x[:, a:a + 50].T @ x[:, a:a + 50] / n, 0.8) for a in range(0, m, 50)]
    eigen = EigenBlocks(snps.assign(cm=0.0, n=n), np.arange(0, m + 1, 50),
                        np.cumsum([0] + [len(v) for v, _, _ in parts]),
                        np.concatenate([v for v, _, _ in parts]),
                        np.concatenate([np.asarray(u, np.float32).ravel() for _, u, _ in parts]),
                        np.array([t for _, _, t in parts]),
                        {"prop": 0.8, "n_samples": n, "blocks": [1, 2, 3, 4]})
    return SBayesEigenModel(prepare_eigen_data(sumstats_table(x.T @ y / np.sqrt(n), n, snps),
                                               eigen), "R")


def residual_error(model, point, saved_residuals) -> float:
    """Largest |saved - recomputed| of the residual vector a checkpoint holds, relative to
    the largest entry: e = y - C alpha - X beta (individual data, dense X) or
    r = X'y - X'X beta (summary data, dense X'X = n_i^1/2 n_j^1/2 R_ij) or e = w - Q beta
    (eigen LD)."""
    if hasattr(model.data, "q_values"):  # eigen LD: e = w - Q beta in the rotated space
        from bayesmix.kernels.sbayes_eigen import eigen_fitted

        d = model.data
        truth = d.w - eigen_fitted(d.block_ptr, d.rank_ptr, d.q_ptr, d.q_values, point["beta"])
        saved = saved_residuals["e"]
    elif "e" in saved_residuals:
        data = model.data
        x = data.genotypes.dense()
        truth = data.y - data.design @ point["alpha"] - x @ model.snp_effects(point)
        saved = saved_residuals["e"]
    else:
        data = model.data
        r = data.ld.to_scipy().toarray().astype(np.float64)
        xtx = np.sqrt(np.outer(data.n, data.n)) * r
        truth = data.xty - xtx @ point["beta"]
        saved = saved_residuals["r"]
    return float(np.abs(saved - truth).max() / np.abs(truth).max())


class SignalSender(threading.Thread):
    """Sends ``signum`` to this process after ``delay`` seconds; ``sent_at`` is the
    ``time.monotonic()`` just before."""

    def __init__(self, delay: float, signum: int):
        super().__init__(daemon=True)
        self.delay, self.signum, self.sent_at = delay, int(signum), None

    def run(self):
        time.sleep(self.delay)
        self.sent_at = time.monotonic()
        os.kill(os.getpid(), self.signum)


def signal_at_call(step, call, signum=signal.SIGINT):
    """Make ``step`` send this process ``signum`` during its ``call``-th call (mid-iteration)."""
    original, calls = step.step, {"n": 0}

    def signalling_step(point):
        calls["n"] += 1
        if calls["n"] == call:
            os.kill(os.getpid(), signum)
        return original(point)

    step.step = signalling_step
    return step


def kept_iterations(settings, completed):
    """The 1-based iterations a chain of ``completed`` iterations keeps (brute force)."""
    return [it for it in range(1, completed + 1)
            if it > settings.burn_in and it % settings.thin == 0]


def assert_same_chain(a, b):
    """Every result array of two ChainResults is bit-identical."""
    assert a.chain == b.chain and a.completed == b.completed
    assert list(a.traces) == list(b.traces)
    for name in a.traces:
        np.testing.assert_array_equal(a.traces[name], b.traces[name], err_msg=name)
    np.testing.assert_array_equal(a.alpha, b.alpha)
    np.testing.assert_array_equal(a.iterations, b.iterations)
    assert a.snp.count == b.snp.count
    for name in ("sum_beta", "sum_beta2", "nonzero", "comp_counts"):
        np.testing.assert_array_equal(getattr(a.snp, name), getattr(b.snp, name), err_msg=name)
    assert len(a.snp_draws) == len(b.snp_draws)
    for (it_a, idx_a, v_a), (it_b, idx_b, v_b) in zip(a.snp_draws, b.snp_draws):
        assert it_a == it_b
        np.testing.assert_array_equal(idx_a, idx_b)
        np.testing.assert_array_equal(v_a, v_b)


def assert_consistent_partial(model, chain, reference, settings):
    """An interrupted chain holds exactly the first ``completed`` iterations of the
    uninterrupted ``reference`` chain, and its checkpoint holds that same state with a
    residual vector that matches its effects."""
    k = chain.completed
    assert 0 <= k <= settings.chain_length
    kept = kept_iterations(settings, k)
    np.testing.assert_array_equal(chain.iterations, kept)
    d = len(kept)
    for name, values in chain.traces.items():
        np.testing.assert_array_equal(values, reference.traces[name][:d], err_msg=name)
    np.testing.assert_array_equal(chain.alpha, reference.alpha[:d])
    assert chain.snp.count == max(0, k - settings.burn_in)
    assert [it for it, _, _ in chain.snp_draws] == kept
    for (_, idx, values), (_, idx_ref, values_ref) in zip(chain.snp_draws, reference.snp_draws):
        np.testing.assert_array_equal(idx, idx_ref)
        np.testing.assert_array_equal(values, values_ref)
    path = checkpoint_path(settings, chain.chain)
    if k == 0:
        return
    header, state = read_checkpoint(path)
    assert header["iteration"] == k and header["chain"] == chain.chain
    assert residual_error(model, state["point"], state["residuals"]) < 1e-6
    np.testing.assert_array_equal(state["kept_iters"], kept)
    assert state["acc"].count == chain.snp.count
