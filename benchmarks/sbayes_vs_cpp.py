"""Benchmark: bayesmix's SBayesR against a C++ baseline of GCTB's sampler, same machine and files.

GCTB cannot be installed here, so ``benchmarks/gctb_baseline/sbayesr_baseline.cpp`` stands in
for it: the SBayesR iteration of GCTB 2.0 (per-SNP operations, Eigen float containers,
hyperparameter updates, sample collection) compiled with GCTB's flags (README there). This
script

1. builds GCTB's benchmark shape exactly as ``benchmarks/sbayes.py --gctb-like`` does (its LD
   and summary-statistics worker; reused from the cache when the shape and N match): ``--snps``
   SNPs, a positive-definite band ``2 * --half-band + 1`` wide, summary statistics drawn from it;
2. writes them in GCTB's formats with bayesmix's writers
   (:func:`bayesmix.ld.gctb.write_gctb_ldm` -> ``PREFIX.ldm.band.bin/.info``,
   :func:`bayesmix.io.sumstats.write_ma` -> ``.ma``);
3. runs the C++ baseline and bayesmix's SBayesR on those files, alternately, each in its own
   process with one thread (NUMBA/OMP/OPENBLAS/MKL threads 1), ``--repeats`` times. bayesmix:
   the default SBayesR model with ``ridge=0.0`` (GCTB's LD-sampling-variance correction on,
   no eigenvalue check), LD read from the GCTB files as ``--bayesmix-dtype`` (int16 = its own
   2-byte storage), chain driver with ``thin=1``. Both chains run ``--burn-in`` + ``--iterations``
   iterations; the time per iteration is the median over the iterations after burn-in of the
   whole iteration (bayesmix: between consecutive iteration starts of the chain driver, i.e.
   every step, monitoring and summaries; C++: effects sweep, hyperparameters and sample
   collection);
4. prints and writes ``benchmarks/results/sbayes_vs_cpp.json`` (other shapes:
   ``sbayes_vs_cpp_SNPS_HALFBAND.json``; or ``--output``): both
   per-iteration medians per repeat and over repeats, both posterior mean hsq, the load average
   around each run, and the ``gctb`` command line that runs real GCTB on the same files.

Usage: python benchmarks/sbayes_vs_cpp.py [--repeats 3] [--iterations 300]
       python benchmarks/sbayes_vs_cpp.py --snps 5000 --half-band 1000 --repeats 1   # quick
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "sbayes_vs_cpp.json"
BASELINE_DIR = HERE / "gctb_baseline"
GCTB_REFERENCE_MS = [16, 44]  # GCTB's own SBayesR run, 20k SNPs, 10,000-wide LD, one thread


def _load_sbayes_benchmark():
    """benchmarks/sbayes.py as a module (its GCTB-like LD worker, timed chain and runner)."""
    spec = importlib.util.spec_from_file_location("bayesmix_bench_sbayes", HERE / "sbayes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SBAYES = _load_sbayes_benchmark()

_WORKER_WRITE_GCTB = r"""
# The cached LD and summary statistics in GCTB's formats, with bayesmix's writers.
import json, sys
import pandas as pd
from bayesmix.io.sumstats import write_ma
from bayesmix.ld.gctb import write_gctb_ldm
from bayesmix.ld.store import LDMatrix
cache, out = sys.argv[1], sys.argv[2]
gctb_type = sys.argv[3] if len(sys.argv) > 3 else "band"
ld = LDMatrix.load(cache, mmap=False)
prefix = write_gctb_ldm(ld, out, gctb_type)
write_ma(pd.read_pickle(cache + ".sumstats.pkl"), out + ".ma")
print(json.dumps({"ldm": str(prefix), "ma": out + ".ma", "nnz": int(ld.nnz)}))
"""

_WORKER_BAYESMIX = SBAYES._TIMED_CHAIN + r"""
# bayesmix's SBayesR on the GCTB files: default model, ridge 0 (no eigenvalue check), GCTB's
# LD-sampling-variance correction, chain driver, one thread.
import json, resource, sys, time
import numpy as np
from bayesmix.inference.chain import ChainSettings
from bayesmix.io.sumstats import read_sumstats
from bayesmix.ld.gctb import read_gctb_ldm
from bayesmix.models.sbayes import SBayesModel
from bayesmix.prepare.summary_data import prepare_summary_data
ldm, ma, iterations, burn, seed, dtype = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                          int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
t0 = time.perf_counter()
data = prepare_summary_data(read_sumstats(ma), read_gctb_ldm(ldm, dtype=dtype))
model = SBayesModel(data, "R", robust=True, ridge=0.0)
load_seconds = time.perf_counter() - t0
settings = ChainSettings(chain_length=iterations + burn, burn_in=burn, thin=1, out_freq=0, seed=seed)
result, sweep, iteration_seconds = run_timed_chain(model, settings)
hsq = np.asarray(result.traces["hsq"])
print(json.dumps({
    "ms_per_iteration_median": 1e3 * float(np.median(iteration_seconds[burn:])),
    "ms_per_iteration_mean": 1e3 * float(np.mean(iteration_seconds[burn:])),
    "sweep_ms_median": 1e3 * float(np.median(sweep[burn:])),
    "chain_driver_ms_per_iteration (incl. first iteration)": 1e3 * result.seconds_per_iteration,
    "hsq_mean": float(hsq.mean()), "nnz_mean": float(np.mean(result.traces["NnzSnp"])),
    "ld_layout": model.ld_layout, "ld_dtype": dtype, "ld_bytes": model.ld_bytes,
    "load_and_setup_seconds": load_seconds,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def one_thread_env() -> dict:
    """Environment of every timed process: numba, OpenMP and BLAS on one thread."""
    return dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                NUMBA_NUM_THREADS="1")


def build_baseline(binary: Path) -> Path:
    """Compile the C++ baseline with its build script (GCTB's flags) into ``binary``."""
    out = subprocess.run([str(BASELINE_DIR / "build.sh"), str(binary)], capture_output=True,
                         text=True)
    if out.returncode:
        raise RuntimeError(f"building the C++ baseline failed:\n{out.stderr[-3000:]}")
    return binary


def compiler_description() -> str:
    """Compiler version and flags of the baseline (those of build.sh)."""
    version = subprocess.run([os.environ.get("CXX", "g++"), "--version"], capture_output=True,
                             text=True).stdout.splitlines()[:1]
    return f"{' '.join(version)}; -std=c++17 -O3 -msse2 -m64 -fopenmp -DNDEBUG; Eigen 3"


def run_baseline(binary: Path, ldm: str, ma: str, iterations: int, burn: int, seed: int) -> dict:
    """One C++ chain (one thread); its JSON summary line."""
    cmd = [str(binary), "--ldm", ldm, "--gwas-summary", ma, "--chain-length",
           str(iterations + burn), "--burn-in", str(burn), "--thin", "1", "--out-freq", "0",
           "--seed", str(seed), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=one_thread_env())
    if out.returncode:
        raise RuntimeError(f"C++ baseline failed:\n{out.stderr[-3000:]}")
    record = json.loads(out.stdout.strip().splitlines()[-1])
    trace = record.pop("hsq_trace")
    record["hsq_mean"] = float(np.mean(trace))
    return record


def shape_suffix(args) -> str:
    """"" for GCTB's benchmark shape (20,000 SNPs, 5,000 per side), else "_SNPS_HALFBAND"."""
    return "" if (args.snps, args.half_band) == (20_000, 5_000) else f"_{args.snps}_{args.half_band}"


def gctb_like_inputs(args) -> tuple[str, dict]:
    """The cache prefix of the GCTB-like LD + statistics (built by sbayes.py's worker if needed)."""
    cache = f"{args.cache}.gctb_like{shape_suffix(args)}"
    info = {"cache": cache, "reused": _cache_matches(cache, args)}
    if not info["reused"]:
        info["simulation"] = SBAYES._run(SBAYES._WORKER_GCTB_LIKE_LD, args.snps, args.half_band,
                                         args.n_gwas, cache)
    return cache, info


def _cache_matches(cache: str, args) -> bool:
    """True when ``cache`` holds the LD and statistics of this shape and GWAS N."""
    import pandas as pd

    indptr_file, stats_file = Path(cache) / "indptr.npy", Path(cache + ".sumstats.pkl")
    if not (indptr_file.exists() and stats_file.exists()):
        return False
    indptr = np.load(indptr_file)
    stats = pd.read_pickle(stats_file)
    return (len(indptr) == args.snps + 1 and int(indptr[1]) == args.half_band + 1
            and len(stats) == args.snps and bool(np.all(stats["N"] == args.n_gwas)))


def write_gctb_files(cache: str) -> dict:
    """GCTB files next to the cache (rewritten when the cache is newer)."""
    out = f"{cache}.gctb"
    ldm, ma = Path(f"{out}.ldm.band.bin"), Path(f"{out}.ma")
    newest_input = max(p.stat().st_mtime for p in (Path(cache) / "data.npy",
                                                   Path(cache + ".sumstats.pkl")))
    if ldm.exists() and ma.exists() and min(ldm.stat().st_mtime, ma.stat().st_mtime) > newest_input:
        return {"ldm": f"{out}.ldm.band", "ma": str(ma), "written": False}
    record = SBAYES._run(_WORKER_WRITE_GCTB, cache, out)
    record["written"] = True
    return record


def gctb_command(files: dict, iterations: int, burn: int, out: str) -> str:
    """The command that runs real GCTB 2.x SBayesR on the same files, one thread."""
    return (f"gctb --sbayes R --ldm {files['ldm']} --gwas-summary {files['ma']} "
            f"--gamma 0,0.01,0.1,1 --pi 0.95,0.02,0.02,0.01 --chain-length {iterations + burn} "
            f"--burn-in {burn} --out-freq 10 --thread 1 --seed 1 --out {out}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snps", type=int, default=20_000)
    parser.add_argument("--half-band", type=int, default=5_000,
                        help="LD entries per side of the diagonal (GCTB's 10,000-wide LD: 5,000)")
    parser.add_argument("--n-gwas", type=float, default=100_000)
    parser.add_argument("--iterations", type=int, default=300, help="timed iterations per chain")
    parser.add_argument("--burn-in", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="chains per program, alternating")
    parser.add_argument("--bayesmix-dtype", default="int16", choices=("int16", "float32"),
                        help="how bayesmix holds the LD it reads from the GCTB files")
    parser.add_argument("--cache", default="/tmp/bayesmix-bench-sbayes-ld20k",
                        help="prefix of the LD cache shared with benchmarks/sbayes.py")
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON record (default: results/sbayes_vs_cpp.json for GCTB's shape, "
                             "results/sbayes_vs_cpp_SNPS_HALFBAND.json for another)")
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = RESULTS.with_name(f"sbayes_vs_cpp{shape_suffix(args)}.json")

    cache, inputs = gctb_like_inputs(args)
    files = write_gctb_files(cache)
    binary = build_baseline(Path(f"{cache}.sbayesr_baseline"))
    runs = []
    for repeat in range(args.repeats):
        for program in ("cpp", "bayesmix"):
            load = os.getloadavg()
            if program == "cpp":
                row = run_baseline(binary, files["ldm"], files["ma"], args.iterations,
                                   args.burn_in, seed=1 + repeat)
            else:
                row = SBAYES._run(_WORKER_BAYESMIX, files["ldm"], files["ma"], args.iterations,
                                  args.burn_in, 1 + repeat, args.bayesmix_dtype)
            row.update(program=program, repeat=repeat, load_average_before=load,
                       load_average_after=os.getloadavg())
            runs.append(row)
            print(f"repeat {repeat} {program:>8}: {row['ms_per_iteration_median']:7.2f} ms per "
                  f"iteration (median; sweep {row['sweep_ms_median']:.2f}), hsq "
                  f"{row['hsq_mean']:.4f}, load {load[0]:.2f}", flush=True)
    summary = {}
    for program in ("cpp", "bayesmix"):
        rows = [r for r in runs if r["program"] == program]
        summary[program] = {
            "ms_per_iteration_median_of_repeats": float(np.median(
                [r["ms_per_iteration_median"] for r in rows])),
            "ms_per_iteration_each_repeat": [r["ms_per_iteration_median"] for r in rows],
            "sweep_ms_median_of_repeats": float(np.median([r["sweep_ms_median"] for r in rows])),
            "hsq_mean_each_repeat": [r["hsq_mean"] for r in rows],
            "hsq_mean": float(np.mean([r["hsq_mean"] for r in rows])),
        }
    ratio = (summary["bayesmix"]["ms_per_iteration_median_of_repeats"]
             / summary["cpp"]["ms_per_iteration_median_of_repeats"])
    record = {
        "shape": {"snps": args.snps, "half_band": args.half_band, "n_gwas": args.n_gwas,
                  "iterations": args.iterations, "burn_in": args.burn_in, "threads": 1},
        "inputs": inputs, "gctb_files": files, "summary": summary,
        "bayesmix_over_cpp_time_ratio": ratio, "runs": runs,
        "gctb_command": gctb_command(files, args.iterations, args.burn_in, f"{cache}.gctb_run"),
        "gctb_reference_ms_per_iteration (GCTB's own run, another machine)": GCTB_REFERENCE_MS,
        "cpp_build": compiler_description(), "machine": platform.platform(),
        "cpus": os.cpu_count(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=1))
    print(f"per-iteration median over {args.repeats} repeats: C++ baseline "
          f"{summary['cpp']['ms_per_iteration_median_of_repeats']:.2f} ms, bayesmix "
          f"{summary['bayesmix']['ms_per_iteration_median_of_repeats']:.2f} ms "
          f"(ratio {ratio:.2f}); hsq C++ {summary['cpp']['hsq_mean']:.4f}, bayesmix "
          f"{summary['bayesmix']['hsq_mean']:.4f}")
    print("real GCTB on the same files:\n  " + record["gctb_command"])
    return record


if __name__ == "__main__":
    main()
