"""LD conditioning of summary data (bayesmix.prepare.ld_conditioning) against dense eigenvalues."""

import numpy as np
import pandas as pd
import pytest

from bayesmix.errors import InputError
from bayesmix.ld.store import LDMatrix
from bayesmix.prepare.ld_conditioning import STRONG_RIDGE, condition_ld
from bayesmix.prepare.summary_data import SummaryData


def summary_with_ld(r, kind, *, in_sample=False):
    """SummaryData whose LD is the dense correlation-like matrix ``r`` (other fields unused)."""
    m = len(r)
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1",
                         "bp": np.arange(m) + 1, "a1": "A", "a2": "G", "freq": 0.3})
    ld = LDMatrix.from_scipy(r, snps, meta={"kind": kind}, dtype="float32")
    ones = np.ones(m)
    return SummaryData(stats=pd.DataFrame({"SNP": snps["snp"]}), ld=ld, n=ones, xty=ones,
                       xtx_diag=ones, nobs=1.0, yty=1.0, vp=1.0, ld_score=ones,
                       ld_sampling_var=ones, ld_in_sample=in_sample)


def window_ld(n_snps, people, window, *, rho=None, seed=0):
    """Window-cut correlations of a small panel: indefinite, local LD. Genotypes are an AR(1)
    chain with correlation ``rho`` between neighbours (mildly indefinite after the cut), or a
    random walk when ``rho`` is None (strongly indefinite)."""
    rng = np.random.default_rng(seed)
    if rho is None:
        g = rng.normal(size=(people, n_snps)).cumsum(axis=1)
    else:
        g = np.empty((people, n_snps))
        g[:, 0] = rng.normal(size=people)
        for j in range(1, n_snps):
            g[:, j] = rho * g[:, j - 1] + np.sqrt(1 - rho**2) * rng.normal(size=people)
    r = np.corrcoef(g, rowvar=False)
    return np.where(np.abs(np.subtract.outer(np.arange(n_snps), np.arange(n_snps))) <= window,
                    r, 0.0)


def smallest_eigenvalue(ld, ridge):
    r = ld.to_scipy().toarray().astype(np.float64)
    return np.linalg.eigvalsh((1 - ridge) * r + ridge * np.diag(np.diag(r)))[0]


def test_robust_ridge_lifts_the_smallest_eigenvalue_to_the_target():
    data = summary_with_ld(window_ld(200, 150, 3, rho=0.7), "window")
    assert smallest_eigenvalue(data.ld, 0.0) < 0.0
    out = condition_ld(data, robust=True, min_eigenvalue=0.05)
    assert out.repair is None and out.data is data
    assert 0.0 < out.ridge <= STRONG_RIDGE
    assert out.min_eigenvalue <= smallest_eigenvalue(data.ld, 0.0) + 1e-6  # low-side estimate
    assert smallest_eigenvalue(data.ld, out.ridge) >= 0.05 - 1e-6


def test_in_sample_ld_targets_zero():
    data = summary_with_ld(window_ld(200, 150, 3, rho=0.7), "window", in_sample=True)
    out = condition_ld(data, robust=True)
    assert smallest_eigenvalue(data.ld, out.ridge) == pytest.approx(0.0, abs=1e-5)


def test_strongly_indefinite_ld_is_repaired_not_ridged(caplog):
    """Thresholded LD of a 30-person panel needs a ridge above STRONG_RIDGE: the LD is
    replaced by its block-wise nearest positive semi-definite matrix, and the log says so."""
    r = window_ld(300, 30, 60, seed=1)
    r = np.where(r * r >= 0.1, r, 0.0)
    data = summary_with_ld(r, "sparse")
    with caplog.at_level("INFO", logger="bayesmix"):
        out = condition_ld(data, robust=True)
    assert out.repair is not None and out.repair.n_blocks >= 1
    assert out.data is not data and out.data.ld is not data.ld
    assert data.ld.to_scipy().toarray().tolist() == r.astype(np.float32).tolist()  # input kept
    assert smallest_eigenvalue(out.data.ld, out.ridge) >= 0.01 - 1e-5
    assert "LD check: smallest eigenvalue" in caplog.text
    assert "far from positive definite" in caplog.text


def test_fixed_or_no_ridge_skips_the_check():
    data = summary_with_ld(window_ld(50, 30, 5, rho=0.7), "window")
    assert condition_ld(data, robust=False).ridge == 0.0
    fixed = condition_ld(data, robust=True, ridge=0.2)
    assert (fixed.ridge, fixed.min_eigenvalue, fixed.repair) == (0.2, None, None)
    with pytest.raises(InputError, match=r"ridge must be in \[0, 1\)"):
        condition_ld(data, ridge=1.0)


def test_min_eigenvalue_without_the_automatic_ridge_is_refused():
    """--min-eigenvalue is the target of the robust setting's automatic ridge: with a given
    ridge or without the robust setting no ridge is chosen from it, so it is refused (it was
    silently ignored: the same ridge, 0.2 or 0, with any target)."""
    from bayesmix.cli import gctb
    from bayesmix.cli.options import parse

    data = summary_with_ld(window_ld(50, 30, 5, rho=0.7), "window")
    assert smallest_eigenvalue(data.ld, 0.2) < 0.5  # a target of 0.5 would need more ridge
    with pytest.raises(InputError, match=r"--min-eigenvalue 0\.5 .*--ld-ridge"):
        condition_ld(data, robust=True, ridge=0.2, min_eigenvalue=0.5)
    with pytest.raises(InputError, match=r"--min-eigenvalue 0\.5 .*--no-robust"):
        condition_ld(data, robust=False, min_eigenvalue=0.5)
    base = ["--sbayes", "C", "--ldm", "x", "--gwas-summary", "y.ma", "--min-eigenvalue", "0.5"]
    for other in (["--ld-ridge", "0.2"], ["--no-robust"]):
        with pytest.raises(InputError, match="exclude each other"):
            parse(gctb.SPEC, base + other)
    # the target alone still sets the ridge (dense eigenvalues)
    out = condition_ld(data, robust=True, min_eigenvalue=0.5)
    assert smallest_eigenvalue(out.data.ld, out.ridge) >= 0.5 - 1e-5
