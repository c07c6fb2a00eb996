"""Benchmark: whole SBayes runs of GCTB and ``bayesmix-gctb`` on the same files: CPU time,
start-up cost and peak memory.

1. ``prepare`` (once; files go to ``--workdir``, outside the repository): a 1,000-person
   reference panel of 2 x 10,000 SNPs simulated with bayesmix's own genotype simulator
   (:func:`bayesmix.simulate.genotypes.simulate_genotypes`, AR(1) LD blocks of 100 SNPs,
   rho 0.95; chromosomes 1 and 2, 1 kb apart, 1 cM/Mb), summary statistics of a GWAS of
   100,000 people drawn from its LD (``bayesmix simulate --prior R --h2 0.5 --n-gwas
   100000``: ``gwas.ma``) and GCTB-format LD per chromosome, listed in ``--mldm`` files:
   ``shrunk`` (``bayesmix-gctb --make-shrunk-ldm``, the genetic map of the panel: two dense
   10,000 x 10,000 blocks, 199 M nonzeros), ``band`` (GCTB's ``--make-band-ldm --wind 5``)
   and ``sparse`` (``bayesmix-gctb --make-sparse-ldm``, n r^2 >= 10); and ``gctb_like``,
   GCTB's published benchmark shape with its own statistics (``benchmarks/sbayes.py
   --gctb-like``: 20,000 SNPs, a positive-definite band 10,001 wide, statistics of N 100,000
   drawn from it; written as ``gctb_like.ldm.band`` and ``gctb_like.ma``), the band that
   GCTB itself can run (on the panel's own ``band`` LD it fails in its first iterations);
   ``gctb_like_sparse``, the same matrix and statistics in GCTB's sparse format
   (``gctb_like_sparse.ldm.sparse``: the panel's thresholded sparse LD is too far from
   positive definite for GCTB, so this is the sparse *format* on a matrix GCTB runs).
2. ``run``: for every ``--methods`` x ``--ld`` configuration and every ``--chain-lengths``
   (burn-in = a fifth of the chain), GCTB (``--gctb``) and bayesmix (``--python -m
   bayesmix.cli.gctb``; to measure a *before*, the interpreter of another checkout's own
   venv: ``git worktree add /tmp/before COMMIT``, ``python3 -m venv /tmp/before/.venv``,
   a ``.pth`` file in its site-packages naming this venv's site-packages (the same
   dependencies), ``/tmp/before/.venv/bin/pip install --no-deps --no-build-isolation -e
   /tmp/before``, then ``--python /tmp/before/.venv/bin/python``. A PYTHONPATH pointing at
   the other checkout does not work with an editable install: ``bayesmix.models`` would
   still come from this one) run the same command line ``--sbayes M --gwas-summary gwas.ma
   --mldm LIST --chain-length L --burn-in B --thread 1`` (for R with GCTB 2.05's default
   prior given explicitly, :data:`SBAYESR_PRIOR`), each in its own process with numba,
   OpenMP, MKL and OpenBLAS limited to one thread, alternating which tool goes first. The
   CPU time (user + system) and peak RSS come from the child's rusage (``os.wait4``, what
   ``/usr/bin/time -v`` reports); the load average is recorded before and after each run
   (the machine is shared). A run counts as failed without a ``.parRes`` (GCTB exits 0 when
   its chain fails). bayesmix runs once unrecorded first, so numba's cache and Python's
   compiled modules (:data:`USER_ENVIRONMENT`) are warm as a user's second run finds them.
   The robust LD check's memo (:mod:`bayesmix.ld.check_cache`) is off unless
   ``--ld-check-cache warm``: then that first run stores the check's value and the measured
   runs read it back, as a user's later traits on the same LD do.
3. Start-up and per-iteration costs: the straight line through the two chain lengths,
   CPU = start-up + L x per-iteration (medians over ``--repeats``).

Results: ``benchmarks/results/sbayes_startup.json`` holds one entry per ``--label`` (e.g.
``before``, ``after``), each with every run and the fitted costs.

Usage:
    python benchmarks/sbayes_startup.py prepare --workdir /tmp/sbayes_startup --gctb GCTB
    python benchmarks/sbayes_startup.py run --workdir /tmp/sbayes_startup --gctb GCTB \\
        --label after [--methods R C] [--ld shrunk band] [--chain-lengths 100 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "sbayes_startup.json"
SINGLE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "OPENBLAS_NUM_THREADS": "1"}
N_PEOPLE, SNPS_PER_CHROMOSOME, CHROMOSOMES = 1000, 10_000, 2
#: the children's environment: this one without PYTHONDONTWRITEBYTECODE (set on some
#: sandboxes), so Python keeps its compiled modules as on a user's machine; without them
#: every run compiled bayesmix's sources again (~0.5 s of CPU, ~0.9 s of wall time)
USER_ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measured_run(command, *, env=None, log_path=None, cwd=None) -> dict:
    """Run ``command``; its exit status, CPU seconds (user + system), peak RSS (GB) and wall
    time from its rusage, and the load average around it."""
    load_before = os.getloadavg()
    started = time.perf_counter()
    with open(log_path or os.devnull, "wb") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                 env={**USER_ENVIRONMENT, **SINGLE_THREAD, **(env or {})})
        _, status, usage = os.wait4(child.pid, 0)
    return {"exit_status": os.waitstatus_to_exitcode(status),
            "cpu_s": usage.ru_utime + usage.ru_stime, "user_s": usage.ru_utime,
            "sys_s": usage.ru_stime, "peak_gb": usage.ru_maxrss * 1024 / 1e9,
            "wall_s": time.perf_counter() - started, "load_before": load_before,
            "load_after": os.getloadavg()}


def prepare(args):
    """Simulated panel, GWAS statistics and the LD lists (module docstring, step 1)."""
    import numpy as np

    from bayesmix.simulate.genotypes import default_bim, simulate_genotypes, write_bfile

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    panel = work / "panel"
    if not Path(f"{panel}.bed").exists():
        m = SNPS_PER_CHROMOSOME * CHROMOSOMES
        genotypes = simulate_genotypes(N_PEOPLE, m, rng=np.random.default_rng(1),
                                       block_size=100, rho=0.95)
        bim = default_bim(m)
        bim["chr"] = np.repeat([str(c + 1) for c in range(CHROMOSOMES)], SNPS_PER_CHROMOSOME)
        bim["bp"] = 1000 * np.tile(np.arange(1, SNPS_PER_CHROMOSOME + 1), CHROMOSOMES)
        bim["cm"] = bim["bp"] / 1e6
        write_bfile(panel, genotypes, bim=bim)
        bim[["snp", "bp", "cm"]].to_csv(f"{panel}.genmap", sep=" ", header=False, index=False)
    tools = Path(sys.executable).parent
    if not (work / "gwas.ma").exists():
        subprocess.run([tools / "bayesmix", "simulate", "--bfile", panel, "--prior", "R",
                        "--h2", "0.5", "--n-gwas", "100000", "--ld-block-size", "100",
                        "--seed", "1", "--out", work / "gwas"], check=True)
    makers = {
        "shrunk": lambda c, out: [tools / "bayesmix-gctb", "--bfile", panel, "--make-shrunk-ldm",
                                  "--gen-map", f"{panel}.genmap", "--chr", c, "--out", out],
        "sparse": lambda c, out: [tools / "bayesmix-gctb", "--bfile", panel, "--make-sparse-ldm",
                                  "--chr", c, "--out", out],
        "band": lambda c, out: [args.gctb, "--bfile", panel, "--make-band-ldm", "--wind", "5",
                                "--chr", c, "--thread", "1", "--out", out],
    }
    for kind in {"gctb_like", "gctb_like_sparse"} & set(args.ld):
        prepare_gctb_like(work, kind)
    for kind in set(args.ld) - {"gctb_like", "gctb_like_sparse"}:
        maker = makers[kind]
        listing = work / f"{kind}.mldm"
        if listing.exists():
            continue
        prefixes = []
        for c in range(1, CHROMOSOMES + 1):
            out = work / f"{kind}_chr{c}"
            subprocess.run([str(a) for a in maker(str(c), out)], check=True,
                           stdout=subprocess.DEVNULL)
            prefixes.append(str(next(work.glob(f"{kind}_chr{c}*.ldm.{kind}.bin")))[:-4])
        listing.write_text("\n".join(prefixes) + "\n")


def prepare_gctb_like(work: Path, kind: str = "gctb_like"):
    """``KIND.mldm`` and ``gctb_like.ma``: the LD and statistics of sbayes.py's GCTB-like
    worker, written in GCTB's formats by sbayes_vs_cpp.py's writer (``gctb_like``: band,
    ``gctb_like_sparse``: sparse)."""
    if (work / f"{kind}.mldm").exists():
        return
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bayesmix_bench_sbayes_vs_cpp", Path(__file__).resolve().parent / "sbayes_vs_cpp.py")
    vs_cpp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vs_cpp)
    cache = work / "gctb_like_cache"
    if not cache.exists():
        vs_cpp.SBAYES._run(vs_cpp.SBAYES._WORKER_GCTB_LIKE_LD, 20_000, 5_000, 100_000, cache)
    gctb_type = "sparse" if kind == "gctb_like_sparse" else "band"
    written = vs_cpp.SBAYES._run(vs_cpp._WORKER_WRITE_GCTB, cache, work / kind, gctb_type)
    (work / f"{kind}.mldm").write_text(written["ldm"] + "\n")


#: SBayesR's prior, given to both tools: GCTB 2.05's own default (options.hpp), also
#: bayesmix-gctb's since session 25; up to label s24_after bayesmix's default was GCTB 2.0's
#: four components (0, 0.01, 0.1, 1), so the two tools ran different models, and the fifth
#: component (0.001) holds thousands of small nonzero effects that each sweep updates
SBAYESR_PRIOR = ["--gamma", "0,0.001,0.01,0.1,1", "--pi", "0.95,0.02,0.01,0.01,0.01"]


def sbayes_arguments(work: Path, method: str, ld: str, length: int, out: Path) -> list[str]:
    listing = work / f"{ld}.mldm"
    if ld.startswith("gctb_like"):  # one matrix: --ldm (GCTB 2.05 stops silently on a
        # one-line --mldm)
        gwas, ld_option = work / "gctb_like.ma", ["--ldm", listing.read_text().strip()]
    else:
        gwas, ld_option = work / "gwas.ma", ["--mldm", str(listing)]
    prior = SBAYESR_PRIOR if method == "R" else []
    return ["--sbayes", method, "--gwas-summary", str(gwas), *ld_option, *prior,
            "--chain-length", str(length), "--burn-in", str(length // 5), "--thread", "1",
            "--out", str(out)]


def run_tool(tool: str, args, method: str, ld: str, length: int, tag: str) -> dict:
    work = Path(args.workdir)
    out = work / "runs" / f"{tool}_{args.label}_{method}_{ld}_{length}_{tag}"
    out.parent.mkdir(exist_ok=True)
    Path(f"{out}.parRes").unlink(missing_ok=True)
    sbayes = sbayes_arguments(work, method, ld, length, out)
    if tool == "gctb":
        command, env = [args.gctb, *sbayes], None
    else:
        command = [args.python, "-m", "bayesmix.cli.gctb", *sbayes]
        env = {"BAYESMIX_LD_CHECK_CACHE": (str(work / "ld-check-cache")
                                           if args.ld_check_cache == "warm" else "off")}
    # run from the work folder: `python -m` puts the current folder first on sys.path, where a
    # checkout would shadow the interpreter's own installation
    result = measured_run(command, env=env, log_path=f"{out}.stdout", cwd=work)
    result.update(tool=tool, method=method, ld=ld, chain_length=length,
                  ok=result["exit_status"] == 0 and Path(f"{out}.parRes").exists())
    print(json.dumps({k: result[k] for k in ("tool", "method", "ld", "chain_length", "ok",
                                             "cpu_s", "peak_gb", "wall_s", "load_before")}),
          flush=True)
    return result


def fitted_costs(runs: list[dict], lengths: list[int]) -> dict:
    """Per (tool, method, ld): median CPU and peak per chain length, and the line through the
    two lengths (start-up CPU s, CPU ms per iteration)."""
    import numpy as np

    out = {}
    keys = sorted({(r["tool"], r["method"], r["ld"]) for r in runs})
    for key in keys:
        mine = [r for r in runs if (r["tool"], r["method"], r["ld"]) == key and r["ok"]]
        per_length = {}
        for length in lengths:
            at = [r for r in mine if r["chain_length"] == length]
            if at:
                per_length[length] = {"cpu_s": float(np.median([r["cpu_s"] for r in at])),
                                      "peak_gb": float(max(r["peak_gb"] for r in at)),
                                      "runs": len(at)}
        entry = {"by_chain_length": per_length}
        if len(per_length) >= 2:
            (l1, a), (l2, b) = sorted(per_length.items())[:2]
            per_iteration = (b["cpu_s"] - a["cpu_s"]) / (l2 - l1)
            entry.update(startup_cpu_s=a["cpu_s"] - l1 * per_iteration,
                         cpu_ms_per_iteration=1e3 * per_iteration)
        failed = [r for r in runs if (r["tool"], r["method"], r["ld"]) == key and not r["ok"]]
        if failed:
            entry["failed_runs"] = len(failed)
        out["/".join(key)] = entry
    return out


def save(args, runs: list[dict]) -> dict:
    """Write the runs so far (and their fitted costs) under ``--label``; returns that entry."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[args.label] = {
        "runs": runs, "costs": fitted_costs(runs, args.chain_lengths),
        "settings": {"methods": args.methods, "ld": args.ld,
                     "chain_lengths": args.chain_lengths, "repeats": args.repeats,
                     "python": args.python, "ld_check_cache": args.ld_check_cache,
                     "panel": N_PEOPLE,
                     "snps": SNPS_PER_CHROMOSOME * CHROMOSOMES},
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "python": sys.version.split()[0]},
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return results[args.label]


def run(args):
    """The runs of step 2, saved after each one (a long series stopped early keeps them)."""
    tools = ["gctb", "bayesmix"] if not args.bayesmix_only else ["bayesmix"]
    runs = []
    for method in args.methods:
        for ld in args.ld:
            run_tool("bayesmix", args, method, ld, min(args.chain_lengths), "warmup")
            for repeat in range(args.repeats):
                for k, length in enumerate(args.chain_lengths):
                    order = tools if (repeat + k) % 2 == 0 else tools[::-1]
                    for tool in order:
                        runs.append(run_tool(tool, args, method, ld, length, f"r{repeat}"))
                        entry = save(args, runs)
    print(json.dumps(entry["costs"], indent=1))


def add_tool_arguments(parser) -> None:
    """--workdir, --gctb, --python and --label, shared with benchmarks/ld_gctb.py."""
    parser.add_argument("--workdir", default="/tmp/bayesmix_sbayes_startup")
    parser.add_argument("--gctb", default=os.environ.get("GCTB", "gctb"),
                        help="GCTB 2.x binary (built from source, see docs/ld.md)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that runs bayesmix (another venv's for a 'before')")
    parser.add_argument("--label", default="after")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["prepare", "run"])
    add_tool_arguments(parser)
    parser.add_argument("--methods", nargs="+", default=["R", "C"], choices=["C", "R"])
    parser.add_argument("--ld", nargs="+", default=["shrunk", "band"],
                        choices=["shrunk", "band", "sparse", "gctb_like", "gctb_like_sparse"])
    parser.add_argument("--chain-lengths", nargs=2, type=int, default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--ld-check-cache", choices=["off", "warm"], default="off",
                        help="bayesmix's memo of the LD eigenvalue check: off (every run "
                             "checks) or warm (the unrecorded first run stores the value in "
                             "WORKDIR/ld-check-cache, the measured runs read it back)")
    parser.add_argument("--bayesmix-only", action="store_true",
                        help="skip GCTB (e.g. for a 'before' of bayesmix alone)")
    args = parser.parse_args()
    prepare(args) if args.step == "prepare" else run(args)


if __name__ == "__main__":
    main()
