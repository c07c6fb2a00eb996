"""Benchmark: the whole ``bayesmix-mixer ld`` command on one chromosome (r^2 >= 0.05 within
``--ld-window-kb 10000``, with the weak-LD sums of the panel and of each half): CPU seconds and
peak memory, one thread, as a user runs it.

Inputs:
- ``chr22``: the shipped chr22 subset (10,000 SNPs x 503 people);
- ``sim5k``: a chromosome of bayesmix's genotype simulator, 5,000 SNPs x 1,000 people, AR(1)
  LD blocks of 100 SNPs (rho 0.95), SNPs 1 kb apart; written once to ``--workdir``.

Each input is built once unrecorded (numba's cache warm, as on a user's second run), then
``--repeats`` times, each in its own process
(:func:`sbayes_startup.measured_run`: CPU from the child's rusage, numba / OpenMP / BLAS on one
thread). ``--python``: the interpreter of another checkout for a 'before' (see
sbayes_startup.py's docstring for setting up its venv).

Results: ``benchmarks/results/mixer_ld.json``, one entry per ``--label``.

Usage: python benchmarks/mixer_ld.py --label after [--repeats 3] [--python PY]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sbayes_startup import measured_run  # noqa: E402  (shared helper)

RESULTS = Path(__file__).resolve().parent / "results" / "mixer_ld.json"
SIMULATED = {"people": 1000, "snps": 5000, "block_size": 100, "rho": 0.95, "bp_step": 1000}


def simulated_chromosome(workdir: Path) -> str:
    """PLINK prefix of the simulated input (written on first use)."""
    from bayesmix.simulate.genotypes import default_bim, simulate_genotypes, write_bfile

    prefix = workdir / "sim5k"
    if not Path(f"{prefix}.bed").exists():
        s = SIMULATED
        genotypes = simulate_genotypes(s["people"], s["snps"], rng=np.random.default_rng(1),
                                       block_size=s["block_size"], rho=s["rho"])
        bim = default_bim(s["snps"])
        bim["chr"] = "1"
        bim["bp"] = s["bp_step"] * np.arange(1, s["snps"] + 1)
        bim["cm"] = bim["bp"] / 1e6
        write_bfile(prefix, genotypes, bim=bim)
    return str(prefix)


def summary(runs: list[dict]) -> dict:
    """[lowest, highest] CPU seconds, peak GB and wall seconds of one input's runs."""
    return {key: [round(min(r[key] for r in runs), 3), round(max(r[key] for r in runs), 3)]
            for key in ("cpu_s", "peak_gb", "wall_s")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="/tmp/bayesmix_mixer_ld")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that runs bayesmix (another venv's for a 'before')")
    parser.add_argument("--label", default="after")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from bayesmix.data import example_bfile

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    inputs = {"chr22": str(example_bfile(22)), "sim5k": simulated_chromosome(work)}
    entry = {"runs": [], "settings": {"python": args.python, "repeats": args.repeats,
                                      "simulated": SIMULATED, "ld_window_kb": 10000},
             "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                         "python": sys.version.split()[0]}}
    for name, bfile in inputs.items():
        command = [args.python, "-m", "bayesmix.cli.mixer", "ld", "--bfile", bfile,
                   "--ld-window-kb", "10000", "--out", str(work / f"{name}.ld")]
        # run in the workdir: ``-m`` puts the current folder first on sys.path, which from
        # a checkout would import its bayesmix whatever ``--python`` says
        warm = measured_run(command, cwd=work)
        if warm["exit_status"] != 0:
            raise SystemExit(f"{name}: bayesmix-mixer ld exited with {warm['exit_status']}")
        for _ in range(args.repeats):
            run = {"input": name, **measured_run(command, cwd=work)}
            if run["exit_status"] != 0:
                raise SystemExit(f"{name}: bayesmix-mixer ld exited with {run['exit_status']}")
            entry["runs"].append(run)
            print(json.dumps(run))
    entry["summary"] = {name: summary([r for r in entry["runs"] if r["input"] == name])
                        for name in inputs}
    entry["when"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[args.label] = entry
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(json.dumps(entry["summary"], indent=1))


if __name__ == "__main__":
    main()
