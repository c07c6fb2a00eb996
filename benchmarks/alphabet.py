"""Benchmark: BayesC and BayesR on individual genotypes, seconds per iteration and peak memory.

Each configuration runs in its own process (so peak RSS is its own) on simulated genotypes
(``bayesmix.simulate.genotypes.iter_simulated_blocks``: block LD, MAF 0.05-0.5) packed straight
into the int8 :class:`~bayesmix.prepare.compact_genotypes.CompactGenotypes` (never a float
matrix), a BayesC trait with 1% causal SNPs and h2 = 0.5. It times our chain driver
(``run_chain`` with ``make_steps``: sweep + conjugate updates + monitoring) after 10 warm-up
iterations, and reports the sweep alone. Wall time and CPU time (``time.process_time``) are
both recorded: on a shared machine the CPU time is the fair per-iteration cost.

Default grid: n x M = 5,000 x 20,000 (GCTB 2.05beta's own one-thread runs on such data, on
another machine: BayesC ~44 ms/iteration, BayesR ~37 ms), plus n in {2,500, 10,000} at
M = 20,000 and M in {10,000, 40,000} at n = 5,000 to show growth. One thread (numba kernels are serial).

Prints a table and writes JSON to ``benchmarks/results/alphabet.json``.

Usage: python benchmarks/alphabet.py [--iterations 60] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "alphabet.json"
GRID = [(5000, 20000), (2500, 20000), (10000, 20000), (5000, 10000), (5000, 40000)]


def run_one(n: int, m: int, method: str, iterations: int) -> dict:
    """One configuration, in this process."""
    import warnings

    import numpy as np

    warnings.filterwarnings("ignore")
    from bayesmix.inference.chain import ChainSettings, run_chain
    from bayesmix.inference.gibbs import make_steps
    from bayesmix.prepare.compact_genotypes import CompactGenotypes
    from bayesmix.models.alphabet import AlphabetModel
    from bayesmix.prepare.alphabet_data import AlphabetData
    from bayesmix.simulate.genotypes import iter_simulated_blocks

    rng = np.random.default_rng(1)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    geno = CompactGenotypes.from_blocks(
        n, (block for _, _, block in iter_simulated_blocks(n, m, rng=rng, block_size=100)),
        n_snps=m)
    build_seconds = time.perf_counter() - t0
    causal = rng.choice(m, m // 100, replace=False)
    beta = np.zeros(m)
    beta[causal] = rng.normal(0, np.sqrt(0.5 / len(causal)), len(causal))
    g = geno.matvec(beta)
    y = g + rng.normal(0, np.sqrt(0.5), n)
    data = AlphabetData(geno, y, np.ones((n, 1)))
    model = AlphabetModel(data, method)
    steps = make_steps(model)
    sweeps, sweeps_cpu = [], []
    original = steps[0].step

    def timed(point):
        cpu = time.process_time()
        new, stats = original(point)
        sweeps_cpu.append(time.process_time() - cpu)
        sweeps.append(stats[0]["sweep_seconds"])
        return new, stats

    steps[0].step = timed
    warm = ChainSettings(chain_length=10, burn_in=5, thin=1, out_freq=0, seed=1)
    run_chain(model, steps, warm)  # compiles numba kernels and pytensor graphs
    sweeps.clear()
    sweeps_cpu.clear()
    settings = ChainSettings(chain_length=iterations, burn_in=iterations // 2, thin=1,
                             out_freq=0, seed=2)
    cpu = time.process_time()
    result = run_chain(model, steps, settings)
    cpu = time.process_time() - cpu
    return {
        "method": f"Bayes{method}", "n": n, "m": m,
        "seconds_per_iteration": result.seconds_per_iteration,
        "sweep_seconds_median": float(np.median(sweeps)),
        "cpu_seconds_per_iteration": cpu / iterations,
        "sweep_cpu_seconds_median": float(np.median(sweeps_cpu)),
        "nnz_mean": float(result.traces["NnzSnp"].mean()),
        "hsq_mean": float(result.traces["hsq"].mean()),
        "genotype_bytes": geno.nbytes,
        "float32_matrix_bytes": 4 * n * m,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "rss_before_genotypes_bytes": rss_before,
        "build_seconds": build_seconds,
        "iterations": iterations,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="only 5,000 x 20,000")
    parser.add_argument("--one", nargs=3, metavar=("N", "M", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        n, m, method = int(args.one[0]), int(args.one[1]), args.one[2]
        print(json.dumps(run_one(n, m, method, args.iterations)))
        return 0
    grid = GRID[:1] if args.quick else GRID
    rows = []
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    for n, m in grid:
        for method in ("C", "R"):
            out = subprocess.run([sys.executable, __file__, "--one", str(n), str(m), method,
                                  "--iterations", str(args.iterations)],
                                 capture_output=True, text=True, env=env, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{row['method']:>7} n={n:>6} M={m:>6}: {1e3 * row['seconds_per_iteration']:7.1f} "
                  f"ms/iter wall, {1e3 * row['cpu_seconds_per_iteration']:6.1f} ms CPU (sweep "
                  f"{1e3 * row['sweep_cpu_seconds_median']:6.1f} ms CPU), peak RSS "
                  f"{row['peak_rss_bytes'] / 2**20:7.1f} MiB (imports "
                  f"{row['rss_before_genotypes_bytes'] / 2**20:5.0f}), genotypes "
                  f"{row['genotype_bytes'] / 2**20:6.1f} MiB (float32 matrix "
                  f"{row['float32_matrix_bytes'] / 2**20:6.1f} MiB), NnzSnp {row['nnz_mean']:.0f}",
                  flush=True)
    record = {"benchmark": "alphabet", "machine": platform.platform(),
              "load_average": os.getloadavg(), "cpu_count": os.cpu_count(),
              "gctb_reference_ms_per_iteration": {"BayesC": 44, "BayesR": 37,
                                                  "data": "5,000 x 20,000, one thread"},
              "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
