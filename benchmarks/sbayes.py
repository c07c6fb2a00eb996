"""Benchmark: SBayesR seconds per iteration and LD memory, at ~20k SNPs and a synthetic 1M.

1. ``20k``: LD of the shipped chr21 + chr22 subsets (503 people, 2 x 10,000 SNPs), int16
   values, two kinds: all pairs within 1 Mb ("window") and GCTB-style sparse (n r^2 >= 10
   anywhere on the chromosome; strongly indefinite for 503 people, so chains on it stop at
   divergence and only the sweep is timed, at fixed hyperparameters). Summary statistics
   z = sqrt(N) R b + e drawn from the same people's 200-SNP block LD (``--n-gwas`` N, default
   100,000; 1% causal, h2 = 0.3). SBayesR
   (4 components, GCTB's default pi and gamma) with the default robust settings runs
   ``--iterations`` iterations through the chain driver, for the upper-triangle ("upper",
   2 bytes per nonzero of R), full CSR ("csr") and, for the window LD, band ("band": rows as
   contiguous runs, 2 bytes per value) LD layouts. Reported: seconds per iteration
   (whole iteration: effects sweep + hyperparameter steps + monitoring) and of the sweep
   alone, LD bytes per nonzero of R, the eigenvalue check's time and peak RSS.
2. ``1M``: a synthetic banded LD of 1,000,000 SNPs (r_ij = 0.9^|i-j| for |i-j| <= ``--band``,
   int16, built directly in the upper layout) and the SBayesR sweep kernel with fixed
   hyperparameters (the hyperparameter steps are O(M) numpy on top; timed separately as
   the random numbers and derived quantities of one iteration).
3. CSR and upper sweeps alternating in one process on the 20k window LD (the fair comparison
   of the two layouts on a machine whose load changes between runs).

4. ``--gctb-like`` (run on its own): the shape of GCTB's published benchmark. 20,000 SNPs and a
   banded positive-definite LD 10,001 entries wide (5,000 per side; 175 M nonzeros):
   r_ij = 0.999 * 0.9^k + 0.001 * 0.9995^k, k = |i - j| <= 5,000 (AR(1) 0.9,
   plus a 0.1% long-range AR(1) so that every stored int16 entry is nonzero, as the far
   entries of shrunk LD are small but stored; the eigenvalue check measured a smallest
   eigenvalue of 0.0525, as the untruncated AR(1) 0.9's 0.0526). Summary statistics from that LD
   (:class:`bayesmix.simulate.from_ld.LDSampler`; N ``--n-gwas``, 1% causal, b'Rb = 0.3).
   SBayesR with the default model settings (GCTB's pi and gamma, robust, ``ld_layout="auto"``
   = CSR at this size) through the chain driver, one thread, ``--iterations`` kept
   iterations after 20 burn-in. The LD and summary statistics are built in one process and
   the chain runs in another, so the peak RSS is the model's. Writes
   ``benchmarks/results/sbayes_gctb_like.json`` (``sbayes.json`` is left alone).

GCTB reference (GCTB 2.05beta's own runs on another machine, one thread, 20,000 SNPs with
10,000-wide shrunk LD; docs/sbayes.md): SBayesR 16-44 ms per iteration. GCTB is not installed here, so the comparison is
against those numbers (another machine), not a run on the same machine. Each configuration runs
in its own process with numba and BLAS limited to one thread. Configurations 1-3 print a table
and write ``benchmarks/results/sbayes.json``.

Usage: python benchmarks/sbayes.py [--iterations 300] [--band 50] [--skip-1m]
       python benchmarks/sbayes.py --gctb-like [--iterations 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "sbayes.json"
DRIVER_AVERAGE = "chain_driver_seconds_per_iteration (incl. first iteration)"
RESULTS_GCTB_LIKE = Path(__file__).resolve().parent / "results" / "sbayes_gctb_like.json"

_TIMED_CHAIN = r"""
def run_timed_chain(model, settings):
    # run_chain of the SBayes steps; also returns each effects sweep's seconds and the wall
    # time between consecutive iterations' starts (steady state: the chain driver's average
    # also holds the first iteration's one-off costs, e.g. the initial r = X'y - X'X beta)
    import time
    import numpy as np
    from bayesmix.inference.chain import run_chain
    from bayesmix.inference.sbayes_gibbs import make_sbayes_steps
    steps = make_sbayes_steps(model)
    sweep, starts = [], []
    effects_step = steps[0].step
    def timed(point):
        starts.append(time.perf_counter())
        new, stats = effects_step(point)
        sweep.append(stats[0]["sweep_seconds"])
        return new, stats
    steps[0].step = timed
    return run_chain(model, steps, settings), sweep, np.diff(starts)
"""

_WORKER_20K = _TIMED_CHAIN + r"""
import json, resource, sys, time
import numpy as np
from bayesmix.data import example_bfile
from bayesmix.inference.chain import ChainSettings, run_chains
from bayesmix.ld.store import combine_ld
from bayesmix.inference.sbayes_gibbs import make_sbayes_steps
from bayesmix.ld import build_ld
from bayesmix.models.sbayes import SBayesModel
from bayesmix.prepare.summary_data import prepare_summary_data
from bayesmix.simulate.from_ld import sumstats_table

layout, iterations, cache, N_GWAS, kind = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                                            float(sys.argv[4]), sys.argv[5])
cache = f"{cache}.{kind}"
options = {"sparse": {}, "window": {"window_kb": 1000}}[kind]
t0 = time.perf_counter()
try:
    from bayesmix.ld.store import LDMatrix
    ld = LDMatrix.load(cache, mmap=False)
    built = False
except Exception:
    ld = combine_ld([build_ld(example_bfile(c), kind, dtype="int16", progress=False, threads=1,
                              **options) for c in (21, 22)])
    ld.save(cache)
    built = True
ld_seconds = time.perf_counter() - t0
rng = np.random.default_rng(1)
m = ld.shape[0]
b = np.where(rng.random(m) < 0.01, rng.normal(0, np.sqrt(0.3 / (0.01 * m)), m), 0.0)
from bayesmix.io.plink import Genotypes
from bayesmix.simulate.from_ld import draw_from_genotype_blocks
z = np.concatenate([draw_from_genotype_blocks(Genotypes.open(example_bfile(c)), b[k * 10000:(k + 1) * 10000],
                                              rng=rng, block_size=200).zscores(N_GWAS)[:, 0]
                    for k, c in enumerate((21, 22))])
data = prepare_summary_data(sumstats_table(z, N_GWAS, ld.snps), ld)
t0 = time.perf_counter()
# sparse: the sweep on the thresholded matrix itself (the robust default would repair it)
model = SBayesModel(data, "R", ld_layout=layout, **({"ridge": 0.0} if kind == "sparse" else {}))
setup_seconds = time.perf_counter() - t0
if kind == "sparse":
    # GCTB-style sparse LD of a 503-person panel is strongly indefinite (eigenvalue ~ -5): a chain
    # stops at divergence within iterations, so time the SBayesR sweep at fixed hyperparameters
    from bayesmix.inference.sbayes_gibbs import SWEEPS
    from bayesmix.kernels.sbayes import mixture_terms
    sweep_fn = SWEEPS[layout]
    r, beta, comp = data.xty.copy(), np.zeros(m), np.zeros(m, np.int64)
    log_pi, comp_var = np.log([0.95, 0.02, 0.02, 0.01]), np.array([0, .01, .1, 1]) * 0.3 / (m * 0.0123)
    mixture = mixture_terms(log_pi, comp_var)
    vare = np.full(m, 0.7)
    times = []
    for it in range(iterations // 4 + 2):
        u, g = rng.random(m), rng.random(m)
        t1 = time.perf_counter()
        sweep_fn(*model.ld_arrays, ld.scale, model.sqrt_n, data.xtx_diag, 0.0, r, beta, comp, mixture,
                 np.ones(m), vare, u, g)
        if it >= 2:
            times.append(time.perf_counter() - t1)
    print(json.dumps({
        "config": f"20k sparse int16 {layout} (sweep only)", "n_snps": m, "nnz": ld.nnz,
        "ld_bytes": model.ld_bytes, "bytes_per_nonzero": model.ld_bytes / ld.nnz,
        "sweep_seconds_per_iteration": float(np.median(times)),
        "ld_min_eigenvalue": model.ld_min_eigenvalue, "ridge": model.ridge,
        "model_setup_seconds (eigen check)": setup_seconds, "ld_seconds": ld_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    sys.exit(0)
settings = ChainSettings(chain_length=iterations + 20, burn_in=20, thin=1, out_freq=0, seed=1)
t0 = time.perf_counter()
result, sweep, iteration_seconds = run_timed_chain(model, settings)
print(json.dumps({
    "config": f"20k {kind} int16 {layout}", "n_snps": m, "nnz": ld.nnz,
    "ld_bytes": model.ld_bytes, "bytes_per_nonzero": model.ld_bytes / ld.nnz,
    "seconds_per_iteration": result.seconds_per_iteration,
    "seconds_per_iteration_median": float(np.median(iteration_seconds[20:])),
    "sweep_seconds_per_iteration": float(np.median(sweep[20:])),
    "ld_min_eigenvalue": model.ld_min_eigenvalue, "ridge": model.ridge,
    "model_setup_seconds (eigen check)": setup_seconds, "ld_seconds": ld_seconds,
    "ld_built": built, "hsq_mean": float(result.traces["hsq"].mean()),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_WORKER_PAIR = r"""
import json, sys, time
import numpy as np
from bayesmix.kernels.sbayes import (band_from_csr, mixture_terms, sbayes_sweep, sbayes_sweep_band,
                                     sbayes_sweep_upper, upper_from_csr)
from bayesmix.ld.store import LDMatrix
cache, iterations = sys.argv[1], int(sys.argv[2])
ld = LDMatrix.load(cache, mmap=False)
m = ld.shape[0]
csr = (np.asarray(ld.indptr), np.asarray(ld.indices), np.asarray(ld.data))
upper = upper_from_csr(*csr)
band = band_from_csr(*csr)
rng = np.random.default_rng(0)
n = np.full(m, 1e5)
s, xtx_diag = np.sqrt(n), n.copy()
xty = s * rng.standard_normal(m) * 1.5
log_pi, comp_var = np.log([0.95, 0.02, 0.02, 0.01]), np.array([0, .01, .1, 1]) * 0.3 / (m * 0.0123)
layouts = (("csr", sbayes_sweep, csr), ("upper", sbayes_sweep_upper, upper),
           ("band", sbayes_sweep_band, band))
states = {k: (xty.copy(), np.zeros(m), np.zeros(m, np.int64)) for k, _, _ in layouts}
times = {k: [] for k, _, _ in layouts}
for it in range(iterations + 2):
    u, g = rng.random(m), rng.random(m)
    for key, sweep, arrays in layouts:
        r, beta, comp = states[key]
        t0 = time.perf_counter()
        sweep(*arrays, ld.scale, s, xtx_diag, 0.0, r, beta, comp, mixture_terms(log_pi, comp_var), np.ones(m),
              np.full(m, 0.8), u, g)
        if it >= 2:
            times[key].append(time.perf_counter() - t0)
print(json.dumps({"config": "20k window int16: CSR vs upper vs band sweeps, interleaved",
                  "n_snps": m, "nnz": ld.nnz,
                  "nonzero_effects": int((states["csr"][1] != 0).sum()),
                  **{f"{k}_sweep_seconds": float(np.median(v)) for k, v in times.items()}}))
"""

_WORKER_1M = r"""
import json, resource, sys, time
import numpy as np
from bayesmix.kernels.sbayes import mixture_terms, sbayes_sweep_upper
m, band, iterations = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
offsets = np.tile(np.arange(1, band + 1, dtype=np.uint16), m)
row_counts = np.minimum(band, m - 1 - np.arange(m))
keep = offsets.reshape(m, band) <= row_counts[:, None]
offsets = offsets[keep.ravel()]
values = np.round(0.9 ** offsets.astype(np.float64) * 32767).astype(np.int16)
row_ptr = np.zeros(m + 1, np.int64)
np.cumsum(row_counts, out=row_ptr[1:])
build_seconds = time.perf_counter() - t0
nnz = 2 * len(values) + m
rng = np.random.default_rng(2)
n = np.full(m, 500_000.0)
s = np.sqrt(n)
xtx_diag = n.copy()
xty = s * rng.standard_normal(m) * 1.2
r = xty.copy()
beta = np.zeros(m)
comp = np.zeros(m, np.int64)
log_pi = np.log([0.95, 0.02, 0.02, 0.01])
sig2 = 0.5 / (m * 0.0123)
comp_var = np.array([0.0, 0.01, 0.1, 1.0]) * sig2
ones = np.ones(m)
vare = np.full(m, 0.5)
times, extras = [], []
for it in range(iterations + 2):
    t0 = time.perf_counter()
    u, g = rng.random(m), rng.random(m)
    vare_it = vare + 0.0 * ones                       # per-SNP residual variance vector
    t1 = time.perf_counter()
    sbayes_sweep_upper(row_ptr, offsets, values, 1 / 32767, s, xtx_diag, 0.0, r, beta, comp,
                       mixture_terms(log_pi, comp_var), ones, vare_it, u, g)
    t2 = time.perf_counter()
    if it >= 2:  # the first calls compile / load the numba cache
        times.append(t2 - t1)
        extras.append(t1 - t0)
ld_bytes = row_ptr.nbytes + offsets.nbytes + values.nbytes
print(json.dumps({
    "config": f"1M synthetic band {band} int16 upper", "n_snps": m, "nnz": nnz,
    "ld_bytes": ld_bytes, "bytes_per_nonzero": ld_bytes / nnz,
    "sweep_seconds_per_iteration": float(np.median(times)),
    "random_numbers_seconds_per_iteration": float(np.median(extras)),
    "n_nonzero_effects_last": int((beta != 0).sum()), "build_seconds": build_seconds,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_WORKER_GCTB_LIKE_LD = r"""
# Builds the GCTB-like banded LD (int16, full CSR) and summary statistics drawn from it; saves
# both for the timing worker, so its peak memory is the model's and not the simulator's.
import json, sys, time
import numpy as np
import pandas as pd
from bayesmix.ld.store import LDMatrix, int16_scale
from bayesmix.simulate.from_ld import LDSampler, genetic_variance, sumstats_table
m, half, n_gwas, cache = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
t0 = time.perf_counter()
scale = int16_scale(1.0)
lag = np.arange(half + 1)
codes = np.rint((0.999 * 0.9 ** lag + 0.001 * 0.9995 ** lag) / scale).astype(np.int16)
lo = np.maximum(np.arange(m) - half, 0)
hi = np.minimum(np.arange(m) + half + 1, m)
indptr = np.zeros(m + 1, np.int64)
np.cumsum(hi - lo, out=indptr[1:])
indices = np.empty(indptr[-1], np.int32)
data = np.empty(indptr[-1], np.int16)
for i in range(m):
    cols = np.arange(lo[i], hi[i], dtype=np.int32)
    indices[indptr[i]:indptr[i + 1]] = cols
    data[indptr[i]:indptr[i + 1]] = codes[np.abs(cols - i)]
rng = np.random.default_rng(7)
freq = rng.uniform(0.05, 0.5, m)
snps = pd.DataFrame({"snp": [f"rs{j + 1}" for j in range(m)], "chr": 1, "bp": 1000 + 100 * np.arange(m),
                     "cm": 0.0, "a1": "A", "a2": "G", "freq": freq, "n": 5000})
ld = LDMatrix(indptr.astype(np.int32), indices, data, snps,
              meta={"kind": "band", "n_samples": 5000}, scale=scale)
build_seconds = time.perf_counter() - t0
b = np.where(rng.random(m) < 0.01, rng.standard_normal(m), 0.0)
t0 = time.perf_counter()
sampler = LDSampler(ld)
b *= np.sqrt(0.3 / float(genetic_variance(sampler.matrix, b)))  # b'Rb = h2
z = sampler.zscores(b, n_gwas, rng=rng)
sumstats_seconds = time.perf_counter() - t0
ld.save(cache)
sumstats_table(z, n_gwas, snps).to_pickle(cache + ".sumstats.pkl")
print(json.dumps({"nnz": int(indptr[-1]), "n_causal": int((b != 0).sum()),
                  "ld_build_seconds": build_seconds, "sumstats_seconds": sumstats_seconds,
                  "noise_components_cut": sampler.n_cut, "clipped_eigenvalues": sampler.clipped}))
"""

_WORKER_GCTB_LIKE = _TIMED_CHAIN + r"""
# Whole SBayesR iterations through the default model (robust settings, ld_layout auto) and the
# chain driver, one thread, on the LD and summary statistics saved by the worker above.
import json, resource, sys, time
import numpy as np
import pandas as pd
from bayesmix.inference.chain import ChainSettings
from bayesmix.ld.store import LDMatrix
from bayesmix.models.sbayes import SBayesModel
from bayesmix.prepare.summary_data import prepare_summary_data
cache, iterations = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
ld = LDMatrix.load(cache, mmap=False)
data = prepare_summary_data(pd.read_pickle(cache + ".sumstats.pkl"), ld)
load_seconds = time.perf_counter() - t0
t0 = time.perf_counter()
model = SBayesModel(data, "R")  # GCTB 2.0's documented pi (0.95, 0.02, 0.02, 0.01), gamma (0, .01, .1, 1)
setup_seconds = time.perf_counter() - t0
burn = 20
settings = ChainSettings(chain_length=iterations + burn, burn_in=burn, thin=1, out_freq=0, seed=1)
result, sweep, iteration_seconds = run_timed_chain(model, settings)
traces = {k: np.asarray(v) for k, v in result.traces.items()}
print(json.dumps({
    "config": "GCTB-like: 20k SNPs, band 10,001 wide, int16, " + model.ld_layout, "n_snps": ld.shape[0],
    "nnz": int(ld.nnz), "ld_layout": model.ld_layout, "ld_bytes": model.ld_bytes,
    "bytes_per_nonzero": model.ld_bytes / ld.nnz,
    "iterations": iterations, "burn_in_iterations": burn,
    "seconds_per_iteration": float(np.median(iteration_seconds[burn:])),
    "seconds_per_iteration_mean": float(np.mean(iteration_seconds[burn:])),
    "chain_driver_seconds_per_iteration (incl. first iteration)": result.seconds_per_iteration,
    "sweep_seconds_per_iteration": float(np.median(sweep[burn:])),
    "sweep_seconds_mean": float(np.mean(sweep[burn:])),
    "ld_min_eigenvalue": model.ld_min_eigenvalue, "ridge": model.ridge,
    "model_setup_seconds (eigen check)": setup_seconds, "load_and_prepare_seconds": load_seconds,
    "hsq_mean": float(traces["hsq"].mean()) if "hsq" in traces else None,
    "trace_means": {k: float(v.mean()) for k, v in traces.items() if v.ndim == 1},
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                         text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"benchmark worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--band", type=int, default=50, help="1M synthetic: entries per side")
    parser.add_argument("--snps-1m", type=int, default=1_000_000)
    parser.add_argument("--skip-1m", action="store_true")
    parser.add_argument("--n-gwas", type=float, default=100_000)
    parser.add_argument("--cache", default="/tmp/bayesmix-bench-sbayes-ld20k",
                        help="where the 20k sparse LD is kept between runs")
    parser.add_argument("--gctb-like", action="store_true",
                        help="run only configuration 4 (GCTB's benchmark shape)")
    parser.add_argument("--gctb-like-snps", type=int, default=20_000)
    parser.add_argument("--gctb-like-half-band", type=int, default=5_000,
                        help="LD entries per side of the diagonal (GCTB's 10,000-wide LD: 5,000)")
    args = parser.parse_args(argv)
    if args.gctb_like:
        return [gctb_like(args)]
    # band only for window LD: a chromosome-wide sparse row spans the chromosome
    rows = [_run(_WORKER_20K, layout, args.iterations, args.cache, args.n_gwas, kind)
            for kind, layouts in (("window", ("band", "upper", "csr")), ("sparse", ("upper", "csr")))
            for layout in layouts]
    pair = _run(_WORKER_PAIR, f"{args.cache}.window", max(args.iterations // 20, 5))
    if not args.skip_1m:
        rows.append(_run(_WORKER_1M, args.snps_1m, args.band, max(args.iterations // 30, 5)))
    record = {"rows": rows, "layout_pair": pair, "machine": platform.platform(),
              "cpus": os.cpu_count(),
              "load_average": os.getloadavg(),
              "gctb_reference_ms_per_iteration": {"SBayesR 20k SNPs (shrunk LD)": [16, 44]}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=1))
    print(f"load average {record['load_average']}")
    print(f"{'config':<36} {'SNPs':>9} {'nnz':>11} {'B/nnz':>6} {'s/iter':>9} {'sweep s':>9} "
          f"{'RSS MB':>8}")
    for r in rows:
        print(f"{r['config']:<36} {r['n_snps']:>9} {r['nnz']:>11} {r['bytes_per_nonzero']:>6.2f} "
              f"{r.get('seconds_per_iteration', float('nan')):>9.4f} "
              f"{r['sweep_seconds_per_iteration']:>9.4f} {r['peak_rss_mb']:>8.0f}")
    print(f"same process, alternating sweeps on the 20k window LD: CSR "
          f"{pair['csr_sweep_seconds']:.4f} s, upper {pair['upper_sweep_seconds']:.4f} s, "
          f"band {pair['band_sweep_seconds']:.4f} s")
    return rows


def gctb_like(args) -> dict:
    """Configuration 4: build the LD and summary statistics, then time SBayesR, one thread."""
    cache = f"{args.cache}.gctb_like"
    load_before = os.getloadavg()
    simulated = _run(_WORKER_GCTB_LIKE_LD, args.gctb_like_snps, args.gctb_like_half_band,
                     args.n_gwas, cache)
    row = _run(_WORKER_GCTB_LIKE, cache, args.iterations)
    record = {"row": row, "simulation": simulated, "n_gwas": args.n_gwas,
              "machine": platform.platform(), "cpus": os.cpu_count(),
              "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "gctb_reference_ms_per_iteration": {
                  "SBayesR 20k SNPs, 10,000-wide shrunk LD, one thread (GCTB's own run, "
                  "another machine)": [16, 44]}}
    RESULTS_GCTB_LIKE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_GCTB_LIKE.write_text(json.dumps(record, indent=1))
    print(f"load average before {load_before}, after {record['load_average_after']}")
    print(f"{row['config']}: {row['nnz']} nonzeros, {row['bytes_per_nonzero']:.2f} B/nnz, "
          f"whole iteration {1e3 * row['seconds_per_iteration']:.1f} ms (median; chain "
          f"driver's average {1e3 * row[DRIVER_AVERAGE]:.1f} ms), sweep "
          f"{1e3 * row['sweep_seconds_per_iteration']:.1f} ms (median), peak RSS "
          f"{row['peak_rss_mb']:.0f} MB; GCTB SBayesR 16-44 ms")
    return row


if __name__ == "__main__":
    main()
