"""Benchmark: building LD matrices (bayesmix.ld.build_ld) against ``plink1.9 --r2``.

For each chromosome fileset given, and for three settings with identical output sets, times
and measures the peak resident memory of one bayesmix build and one plink run (each in its
own child process, one BLAS/plink thread, best of ``--repeats``):

- sparse (GCTB):  all pairs on the chromosome with n r^2 >= 10  ~ plink --ld-window-r2 10/n
- r2 (MiXeR):     r^2 >= 0.05 within 10,000 kb                ~ plink --ld-window-r2 0.05
- window 1000 kb: every pair within 1,000 kb                  ~ plink --ld-window-r2 0

It checks that both report the same pairs (count, and the largest r^2 difference), and reports bytes per stored nonzero of
the saved store's array files in float32 and int16 (CSR layout) and int16 in the compact
"upper" layout. Prints a table and writes
JSON to ``benchmarks/results/ld.json``. The machine load average is recorded too: on a shared
machine timings are noisy.

Usage: python benchmarks/ld.py [--bfile PREFIX ...] [--repeats 2]
       python benchmarks/ld.py --scale 20000 100000 --out benchmarks/results/ld_scale.json
       (missing calls: bayesmix mean-imputes by default while plink drops them pairwise, so
       compare on complete data or expect differences)
       (default: the shipped chr21/chr22 subsets; e.g. pass
       ../shared/data/g1000_eur_hm3/g1000_eur_hm3_chr21 and ..._chr22 for the full HapMap3 sets)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "ld.json"
SETTINGS = {
    "sparse": dict(kind="sparse"),
    "r2": dict(kind="r2", r2min=0.05, window_kb=10_000),
    "window1000kb": dict(kind="window", window_kb=1000),
}

_WORKER = r"""
import json, resource, sys, time
from bayesmix.ld import build_ld
prefix, options, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
build_ld(prefix, progress=False, threads=1, **options)          # warm the numba cache
start = time.perf_counter()
ld = build_ld(prefix, progress=False, threads=1, **options)
seconds = time.perf_counter() - start
def peak_mb():
    # VmHWM belongs to this process image; ru_maxrss would also count the parent's memory at
    # fork time (Linux keeps it across exec), inflating the figure
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
peak = peak_mb()                                                # before saving
ld.save(out)
ld.astype("int16").save(out + ".int16")
ld.astype("int16").save(out + ".upper16", layout="upper")
print(json.dumps({"seconds": seconds, "peak_mb": peak, "nnz": ld.nnz,
                  "n_snps": ld.shape[0], "n_samples": ld.n_samples}))
"""

_PEAK = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, capture_output=True)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def folder_bytes(path: Path) -> int:
    """Bytes of the array files of a saved LD folder (any layout)."""
    return sum(f.stat().st_size for f in path.glob("*.npy"))


def ours(prefix: str, options: dict, work: Path, repeats: int) -> dict:
    best = None
    for k in range(repeats):
        out = work / f"ours{k}.ld"
        proc = subprocess.run([sys.executable, "-c", _WORKER, prefix, json.dumps(options),
                               str(out)], check=True, capture_output=True, text=True,
                              env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["bytes_per_nnz_float32"] = folder_bytes(out) / result["nnz"]
        result["bytes_per_nnz_int16"] = folder_bytes(Path(f"{out}.int16")) / result["nnz"]
        result["bytes_per_nnz_int16_upper"] = folder_bytes(Path(f"{out}.upper16")) / result["nnz"]
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best


def plink(prefix: str, options: dict, n_samples: int, work: Path, repeats: int) -> dict | None:
    exe = shutil.which("plink1.9") or shutil.which("plink")
    if exe is None:
        return None
    if options["kind"] == "sparse":
        threshold, window_kb = 10.0 / n_samples - 1e-9, 10**6
    elif options["kind"] == "r2":
        threshold, window_kb = options["r2min"], options["window_kb"]
    else:
        threshold, window_kb = 0.0, options["window_kb"]
    command = [exe, "--bfile", prefix, "--keep-allele-order", "--r2", "--ld-window", "999999",
               "--ld-window-kb", str(window_kb), "--ld-window-r2", repr(threshold),
               "--threads", "1", "--out", str(work / "plink")]
    best = None
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-c", _PEAK, *command], check=True,
                              capture_output=True, text=True)
        result = json.loads(proc.stdout)
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    best["output"] = work / "plink.ld"
    return best


def compare_with_plink(ld_path: Path, plink_ld: Path) -> tuple[int, float]:
    """Number of plink pairs and the largest |r^2 (bayesmix) - r^2 (plink)| over them.

    Reads plink's text output in chunks: at 100k SNPs it has ~10^8 lines.
    """
    from bayesmix.ld import LDMatrix

    ld = LDMatrix.load(ld_path)
    index = pd.Index(ld.snps["snp"])
    r = ld.to_scipy()
    pairs, worst = 0, 0.0
    for chunk in pd.read_csv(plink_ld, sep=r"\s+", usecols=["SNP_A", "SNP_B", "R2"],
                             chunksize=2_000_000):
        ours = np.asarray(r[index.get_indexer(chunk["SNP_A"]),
                            index.get_indexer(chunk["SNP_B"])]).ravel()
        worst = max(worst, float(np.abs(ours**2 - chunk["R2"].to_numpy()).max()))
        pairs += len(chunk)
    return pairs, worst


def main(argv=None) -> int:
    from bayesmix.data import example_bfile

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bfile", nargs="+", help="PLINK prefixes (one chromosome each)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--scale", type=int, nargs="*", default=[],
                        help="also simulate n x M panels (block LD, 1 kb spacing) with these M "
                             "and time the r2 and window settings (growth with M)")
    parser.add_argument("--scale-n", type=int, default=500, help="individuals of --scale panels")
    parser.add_argument("--scale-settings", nargs="+", default=["r2", "window1000kb"],
                        choices=list(SETTINGS), help="settings to run on --scale panels")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.bfile:
        prefixes = args.bfile
    else:            # the shipped subsets, unless only --scale panels were asked for
        prefixes = [] if args.scale else [str(example_bfile(21)), str(example_bfile(22))]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        jobs = [(prefix, label, options) for prefix in prefixes
                for label, options in SETTINGS.items()]
        for m in args.scale:
            from bayesmix.simulate.genotypes import simulate_bfile

            prefix = str(simulate_bfile(work / f"sim_{m}", args.scale_n, m,
                                        rng=np.random.default_rng(m)))
            jobs += [(prefix, label, SETTINGS[label]) for label in args.scale_settings]
        for prefix, label, options in jobs:
            mine = ours(prefix, options, work, args.repeats)
            theirs = plink(prefix, options, mine["n_samples"], work, args.repeats)
            pairs = (mine["nnz"] - mine["n_snps"]) // 2
            if theirs is not None:
                output = theirs.pop("output")
                theirs["pairs"], theirs["max_abs_r2_difference"] = compare_with_plink(
                    work / "ours0.ld", output)
                output.unlink()
            row = {"bfile": Path(prefix).name, "setting": label, "options": options,
                   "bayesmix": mine, "plink": theirs, "pairs_bayesmix": pairs,
                   "same_pairs": theirs is not None and theirs["pairs"] == pairs}
            rows.append(row)
            p_time = f"{theirs['seconds']:7.2f}" if theirs else "    n/a"
            p_mem = f"{theirs['peak_mb']:7.0f}" if theirs else "    n/a"
            print(f"{row['bfile']:28s} {label:13s} snps {mine['n_snps']:6d} "
                  f"pairs {pairs:9d} same={row['same_pairs']!s:5s} | bayesmix "
                  f"{mine['seconds']:6.2f} s {mine['peak_mb']:6.0f} MB | plink {p_time} s "
                  f"{p_mem} MB | bytes/nnz f32 {mine['bytes_per_nnz_float32']:.2f} "
                  f"int16 {mine['bytes_per_nnz_int16']:.2f} int16-upper "
                  f"{mine['bytes_per_nnz_int16_upper']:.2f} | max |dr2| "
                  f"{theirs['max_abs_r2_difference'] if theirs else float('nan'):.1e}",
                  flush=True)
    report = {"benchmark": "ld", "machine": platform.platform(), "cpus": os.cpu_count(),
              "load_average": os.getloadavg(), "python": sys.version.split()[0], "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
