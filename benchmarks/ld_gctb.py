"""Benchmark: GCTB's LD-building commands, GCTB against ``bayesmix-gctb``, same files.

For each case, ``--make-full-ldm``, ``--make-shrunk-ldm`` and ``--make-sparse-ldm`` run in
GCTB (``--gctb``) and in bayesmix (``--python -m bayesmix.cli.gctb``; another checkout's
venv for a *before*, as in ``benchmarks/sbayes_startup.py``) with the same command line, one
thread, each in its own process (wall and CPU time and peak RSS from its rusage, via
:func:`sbayes_startup.measured_run`), alternating which tool goes first, ``--repeats`` times.
As a check that both built the same matrix, the two ``.info`` files are compared: WindStart,
WindEnd and WindSize equal, and the largest |LDsum| difference (GCTB sums r in float32).

Cases (genotypes as ``benchmarks/sbayes_startup.py prepare`` makes them in ``--workdir``:
1,000 people, 10,000 SNPs of chromosome 1, AR(1) LD blocks, a genetic map; and the shipped
503-person chr22 subset of 1000 Genomes, 10,000 SNPs):

- ``full_shipped``: --make-full-ldm on the shipped subset (a 10,000 x 10,000 dense matrix)
- ``full_panel``, ``shrunk_panel`` (--gen-map), ``sparse_panel``: chromosome 1 of the panel.

Results: ``benchmarks/results/ld_gctb.json``, one entry per ``--label``.

Usage:
    python benchmarks/sbayes_startup.py prepare --workdir /tmp/sbayes_startup --gctb GCTB
    python benchmarks/ld_gctb.py --workdir /tmp/sbayes_startup --gctb GCTB --label after
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sbayes_startup import add_tool_arguments, measured_run  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "ld_gctb.json"
SHIPPED = Path(__file__).resolve().parents[1] / "bayesmix" / "data" / "g1000_eur_chr22_sub"


def cases(work: Path) -> dict[str, list[str]]:
    """Case name -> the GCTB options shared by both tools (without --out)."""
    panel = str(work / "panel")
    return {
        "full_shipped": ["--bfile", str(SHIPPED), "--make-full-ldm"],
        "full_panel": ["--bfile", panel, "--chr", "1", "--make-full-ldm"],
        "shrunk_panel": ["--bfile", panel, "--chr", "1", "--make-shrunk-ldm", "--gen-map",
                         f"{panel}.genmap"],
        "sparse_panel": ["--bfile", panel, "--chr", "1", "--make-sparse-ldm"],
    }


def info_agreement(ours: Path, theirs: Path) -> dict:
    """Window columns equal, and the largest |LDsum| difference, of two ``.info`` files."""
    import numpy as np
    import pandas as pd

    a, b = (pd.read_csv(p, sep=r"\s+") for p in (ours, theirs))
    same = len(a) == len(b) and all((a[c].to_numpy() == b[c].to_numpy()).all()
                                    for c in ("WindStart", "WindEnd", "WindSize"))
    diff = float(np.abs(a["LDsum"] - b["LDsum"]).max()) if len(a) == len(b) else None
    return {"same_windows": bool(same), "max_abs_ldsum_difference": diff}


def run_case(args, name: str, options: list[str], repeat: int) -> list[dict]:
    out_dir = Path(args.workdir) / "ld_runs"
    out_dir.mkdir(exist_ok=True)
    tools = ["gctb", "bayesmix"] if repeat % 2 == 0 else ["bayesmix", "gctb"]
    runs, infos = [], {}
    for tool in tools:
        out = out_dir / f"{tool}_{args.label}_{name}"
        command = ([args.gctb, *options, "--thread", "1", "--out", str(out)] if tool == "gctb"
                   else [args.python, "-m", "bayesmix.cli.gctb", *options, "--thread", "1",
                         "--out", str(out)])
        result = measured_run(command, log_path=f"{out}.stdout", cwd=args.workdir)
        info = next(out_dir.glob(f"{out.name}*.ldm.*.info"), None)
        result.update(tool=tool, case=name, repeat=repeat,
                      ok=result["exit_status"] == 0 and info is not None)
        infos[tool] = info
        runs.append(result)
        print(json.dumps({k: result[k] for k in ("tool", "case", "ok", "wall_s", "cpu_s",
                                                 "peak_gb")}), flush=True)
    if all(infos.values()):
        agreement = info_agreement(infos["bayesmix"], infos["gctb"])
        for result in runs:
            result.update(agreement)
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_tool_arguments(parser)
    parser.add_argument("--cases", nargs="+", default=None,
                        help="case names (default: all; see the module docstring)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    work = Path(args.workdir)
    if not Path(f"{work / 'panel'}.bed").exists():
        parser.error(f"no panel in {work}: run benchmarks/sbayes_startup.py prepare first")
    chosen = cases(work)
    if args.cases:
        chosen = {k: v for k, v in chosen.items() if k in args.cases}
    runs = []
    for repeat in range(args.repeats):
        for name, options in chosen.items():
            runs.extend(run_case(args, name, options, repeat))
    summary = {}
    for name in chosen:
        for tool in ("gctb", "bayesmix"):
            mine = [r for r in runs if r["case"] == name and r["tool"] == tool and r["ok"]]
            if mine:
                summary[f"{name}/{tool}"] = {
                    "wall_s": min(r["wall_s"] for r in mine),
                    "cpu_s": min(r["cpu_s"] for r in mine),
                    "peak_gb": max(r["peak_gb"] for r in mine)}
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[args.label] = {
        "runs": runs, "summary": summary, "python": args.python,
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "python": sys.version.split()[0]},
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
