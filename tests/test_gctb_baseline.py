"""Cross-implementation check of the C++ SBayesR baseline (benchmarks/gctb_baseline).

The baseline stands in for GCTB in the speed comparison (benchmarks/sbayes_vs_cpp.py), which is
only meaningful if it samples the same posterior as bayesmix's SBayesR. On a tiny problem
(300 SNPs, full AR(1) LD, summary statistics drawn from it with a known b'Rb), the C++ program
reads the GCTB files bayesmix writes and its posterior mean hsq must agree with bayesmix's
SBayesR on the same files within Monte Carlo error (batch-means standard errors of both
chains), and both must be near the simulated b'Rb. GCTB's starting sigmaSq (which sets its prior
scale) differs from bayesmix's; that moves hsq here by ~0.0004, more than the Monte Carlo error,
so the comparison runs the baseline with bayesmix's (``--sigma-sq-start mixture``). Skipped
without g++ or Eigen 3.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

BASELINE = Path(__file__).resolve().parents[1] / "benchmarks" / "gctb_baseline"
EIGEN = Path(os.environ.get("EIGEN3_INCLUDE_DIR", "/usr/include/eigen3"))
M, N_GWAS, N_REF, H2, RHO = 300, 100_000, 2_000, 0.3, 0.9

pytestmark = pytest.mark.skipif(
    shutil.which(os.environ.get("CXX", "g++")) is None or not (EIGEN / "Eigen" / "Dense").exists(),
    reason="needs g++ and Eigen 3 (libeigen3-dev) to build the C++ baseline")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    binary = tmp_path_factory.mktemp("baseline") / "sbayesr_baseline"
    subprocess.run([str(BASELINE / "build.sh"), str(binary)], check=True, capture_output=True)
    return binary


@pytest.fixture(scope="module")
def gctb_files(tmp_path_factory) -> dict:
    """Full AR(1) LD (every entry stored) in GCTB's band, full and sparse files, and a .ma."""
    from bayesmix.io.sumstats import write_ma
    from bayesmix.ld.gctb import write_gctb_ldm
    from bayesmix.ld.store import LDMatrix
    from bayesmix.simulate.from_ld import LDSampler, genetic_variance, sumstats_table

    out = tmp_path_factory.mktemp("gctb")
    rng = np.random.default_rng(11)
    lag = np.abs(np.subtract.outer(np.arange(M), np.arange(M)))
    snps = pd.DataFrame({"snp": [f"rs{k + 1}" for k in range(M)], "chr": 1,
                         "bp": 1000 + 100 * np.arange(M), "cm": 0.0, "a1": "A", "a2": "G",
                         "freq": rng.uniform(0.05, 0.5, M), "n": N_REF})
    ld = LDMatrix.from_scipy(sp.csr_array(RHO ** lag), snps,
                             meta={"kind": "window", "n_samples": N_REF}, dtype="float32")
    b = np.where(rng.random(M) < 0.05, rng.standard_normal(M), 0.0)
    sampler = LDSampler(ld)
    b *= np.sqrt(H2 / float(genetic_variance(sampler.matrix, b)))   # b'Rb = H2
    z = sampler.zscores(b, N_GWAS, rng=rng)
    files = {kind: str(write_gctb_ldm(ld, out / "ref", kind)) for kind in ("band", "full", "sparse")}
    files["ma"] = str(out / "gwas.ma")
    write_ma(sumstats_table(z, N_GWAS, snps), files["ma"])
    return files


def run_baseline(binary, ldm, ma, *, chain_length, burn_in, seed, extra=()) -> dict:
    out = subprocess.run([str(binary), "--ldm", ldm, "--gwas-summary", ma, "--chain-length",
                          str(chain_length), "--burn-in", str(burn_in), "--thin", "1",
                          "--out-freq", "0", "--seed", str(seed), "--json", *extra],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def batch_means_se(trace, n_batches: int = 20) -> float:
    """Monte Carlo standard error of the mean of an autocorrelated chain (batch means)."""
    batches = np.array_split(np.asarray(trace, np.float64), n_batches)
    means = np.array([b.mean() for b in batches])
    return float(means.std(ddof=1) / np.sqrt(n_batches))


def test_baseline_hsq_agrees_with_bayesmix_sbayesr(baseline, gctb_files):
    from bayesmix.inference.chain import ChainSettings
    from bayesmix.inference.sbayes_run import run_sbayes
    from bayesmix.io.sumstats import read_sumstats
    from bayesmix.ld.gctb import read_gctb_ldm
    from bayesmix.prepare.summary_data import prepare_summary_data

    # bayesmix's starting sigmaSq (its prior scale), and fewer than 2,000 iterations (GCTB then
    # replaces that prior scale by a running mean): the same model as bayesmix's SBayesR
    cpp = run_baseline(baseline, gctb_files["band"], gctb_files["ma"], chain_length=2000,
                       burn_in=400, seed=3, extra=["--sigma-sq-start", "mixture"])
    cpp_trace = np.asarray(cpp["hsq_trace"])
    data = prepare_summary_data(read_sumstats(gctb_files["ma"]), read_gctb_ldm(gctb_files["band"]))
    settings = ChainSettings(chain_length=3000, burn_in=500, thin=1, out_freq=0, seed=3)
    _, result = run_sbayes(data, "R", settings, robust=True, ridge=0.0)
    bmx_trace = np.asarray(result.chains[0].traces["hsq"])

    diff = cpp_trace.mean() - bmx_trace.mean()
    se = np.hypot(batch_means_se(cpp_trace), batch_means_se(bmx_trace))
    assert abs(diff) < 4 * se, (cpp_trace.mean(), bmx_trace.mean(), se)
    # both near the simulated b'Rb (posterior SD of hsq here is ~0.01)
    assert abs(cpp_trace.mean() - H2) < 0.05 and abs(bmx_trace.mean() - H2) < 0.05
    # GCTB's own hsq (GenVar / Vp) is the same quantity here (Vp = 1, ResVar + GenVar ~ 1)
    assert cpp["posterior_mean"]["hsq"] == pytest.approx(cpp_trace.mean(), abs=0.01)


def test_baseline_reads_band_full_and_sparse_files_alike(baseline, gctb_files):
    """Every entry of this LD is stored, so the three GCTB layouts hold the same matrix and
    the same seed must give the same chain."""
    runs = {kind: run_baseline(baseline, gctb_files[kind], gctb_files["ma"], chain_length=300,
                               burn_in=100, seed=5) for kind in ("band", "full", "sparse")}
    assert {r["ld_type"] for r in runs.values()} == {"band", "full", "sparse"}
    for kind in ("full", "sparse"):
        np.testing.assert_allclose(runs[kind]["hsq_trace"], runs["band"]["hsq_trace"], rtol=1e-4)


def test_baseline_rejects_mismatched_alleles(baseline, gctb_files, tmp_path):
    ma = pd.read_csv(gctb_files["ma"], sep=" ")
    ma.loc[0, "A1"] = "T"
    bad = tmp_path / "bad.ma"
    ma.to_csv(bad, sep=" ", index=False)
    out = subprocess.run([str(baseline), "--ldm", gctb_files["band"], "--gwas-summary", str(bad),
                          "--chain-length", "10", "--burn-in", "1"], capture_output=True, text=True)
    assert out.returncode == 1 and "alleles of rs1 differ" in out.stderr
