"""Benchmark: the smallest LD eigenvalue (SBayes' robust ridge), old scipy method vs new Lanczos.

- ``old``: the method :func:`bayesmix.ld.spectrum.ld_min_eigenvalue` replaced (it lived in
  ``bayesmix.inference.sbayes_data`` until then): the LD converted to a float32 scipy CSR,
  each independent block sliced and copied to float64, ``scipy.sparse.linalg.eigsh(which="SA",
  tol=0.05, ncv=40)``; dense ``eigvalsh`` below 2,000 SNPs.
- ``new``: :func:`bayesmix.ld.spectrum.ld_min_eigenvalue`, plain Lanczos over the numba product
  on the stored arrays (defaults), and with ``stop_above=0.01`` (what the ridge needs).

Matrices (each run in a fresh process, LD loaded into memory first, ``mmap=False``):

1. ``gctb_like``: the 20,000-SNP, 10,001-wide int16 band of ``benchmarks/sbayes.py
   --gctb-like`` (175 M nonzeros; taken from its cache, built with its builder if absent).
   Truth: untruncated AR(1) 0.9 has 0.0526; the old method reported 0.0525.
2. ``chr22_sparse``: GCTB-style sparse LD (n r^2 >= 10, chromosome-wide) of the shipped chr22
   subset (503 people, 10,000 SNPs, int16). Truth: dense ``numpy.linalg.eigvalsh`` (cached).
3. ``window_20k``: all pairs within 1 Mb of the shipped chr21 + chr22 subsets (two 10,000-SNP
   blocks, int16), from the cache of ``benchmarks/sbayes.py`` (its 20k window LD; skipped
   when that cache is absent). No dense truth (two 10k eigendecompositions); old vs new.

Reported per run: seconds of the eigenvalue call, peak RSS of the process and RSS after
loading the LD (``resource.getrusage(...).ru_maxrss``), the estimate, Lanczos products, the
load average. Numba threads 1 and 2 for the new method (``NUMBA_NUM_THREADS``); BLAS one
thread. Writes ``benchmarks/results/ld_spectrum.json``.

Usage: python benchmarks/ld_spectrum.py [--cache /tmp/bayesmix-bench-sbayes-ld20k] [--skip-old]
       [--matrices gctb_like chr22_sparse window_20k]  (a subset updates only its entries)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "ld_spectrum.json"

_PRELUDE = r"""
import json, logging, resource, sys, time
import numpy as np
from bayesmix.ld.store import LDMatrix
def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
path, method, stop_above = sys.argv[1], sys.argv[2], sys.argv[3]
stop_above = None if stop_above == "none" else float(stop_above)
ld = LDMatrix.load(path, mmap=False)
loaded_rss = rss_mb()
"""

_WORKER = _PRELUDE + r"""
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.args)
logger = logging.getLogger("bayesmix.ld.spectrum")
logger.setLevel(logging.INFO)
logger.addHandler(Keep())
if method == "new":
    from bayesmix.ld.spectrum import ld_min_eigenvalue
    small = LDMatrix.from_scipy(np.eye(3), ld.snps.iloc[:3])  # compile / load the numba cache
    ld_min_eigenvalue(small, dense_below=1)
    records.clear()
    t0 = time.perf_counter()
    value = ld_min_eigenvalue(ld, stop_above=stop_above)
else:
    # the method ld_min_eigenvalue replaced (bayesmix.inference.sbayes_data before 3748cb7)
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh
    from bayesmix.kernels.sbayes import independent_blocks
    t0 = time.perf_counter()
    bounds = independent_blocks(np.asarray(ld.indptr), np.asarray(ld.indices))
    matrix = ld.to_scipy()
    value = np.inf
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        block = matrix[lo:hi, lo:hi].astype(np.float64)
        if hi - lo < 2000:
            v = float(np.linalg.eigvalsh(block.toarray())[0])
        else:
            try:
                v = float(eigsh(block, k=1, which="SA", tol=0.05, ncv=min(40, hi - lo - 1),
                                return_eigenvectors=False)[0])
            except ArpackNoConvergence as exc:
                v = float(np.min(exc.eigenvalues)) if len(exc.eigenvalues) else -np.inf
        value = min(value, v)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "estimate": float(value), "peak_rss_mb": rss_mb(),
                  "rss_after_loading_ld_mb": loaded_rss,
                  "lanczos_products": [int(r[3]) for r in records] or None,
                  "ritz_values": [float(r[2]) for r in records] or None}))
"""

_DENSE = _PRELUDE + r"""
t0 = time.perf_counter()
dense = np.zeros(ld.shape)
indptr, indices, data = np.asarray(ld.indptr), np.asarray(ld.indices), np.asarray(ld.data)
rows = np.repeat(np.arange(ld.shape[0]), np.diff(indptr))
dense[rows, indices] = data.astype(np.float64) * ld.scale
eigenvalues = np.linalg.eigvalsh(dense)
print(json.dumps({"seconds": time.perf_counter() - t0, "lowest": eigenvalues[:5].tolist(),
                  "peak_rss_mb": rss_mb()}))
"""

_BUILD_CHR22 = r"""
import sys
from bayesmix.data import example_bfile
from bayesmix.ld import build_ld
build_ld(example_bfile(22), "sparse", dtype="int16", progress=False, threads=1).save(sys.argv[1])
"""


def _run(code: str, *args, threads: int = 1) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS=str(threads))
    load_before = os.getloadavg()
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                         text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"benchmark worker failed:\n{out.stderr[-3000:]}")
    lines = out.stdout.strip().splitlines()
    row = json.loads(lines[-1]) if lines else {}
    row.update(numba_threads=threads, load_average_before=load_before,
               load_average_after=os.getloadavg())
    return row


def _gctb_like_ld(cache: str) -> str:
    path = f"{cache}.gctb_like"
    if not Path(path, "meta.json").exists():
        sys.path.insert(0, str(HERE))
        import sbayes  # benchmarks/sbayes.py: the GCTB-like LD builder

        sbayes._run(sbayes._WORKER_GCTB_LIKE_LD, 20_000, 5_000, 100_000, path)
    return path


def _chr22_sparse_ld(cache: str) -> str:
    path = f"{cache}.chr22_sparse"
    if not Path(path, "meta.json").exists():
        _run(_BUILD_CHR22, path)
    return path


def _window_20k_ld(cache: str) -> str | None:
    path = f"{cache}.window"
    return path if Path(path, "meta.json").exists() else None


MATRICES = {"gctb_like": _gctb_like_ld, "chr22_sparse": _chr22_sparse_ld,
            "window_20k": _window_20k_ld}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default="/tmp/bayesmix-bench-sbayes-ld20k",
                        help="prefix of the cached LD folders (shared with benchmarks/sbayes.py)")
    parser.add_argument("--skip-old", action="store_true", help="do not run the old method")
    parser.add_argument("--matrices", nargs="+", choices=list(MATRICES), default=list(MATRICES))
    args = parser.parse_args(argv)
    record = {"matrices": {}}
    if RESULTS.exists() and set(args.matrices) != set(MATRICES):
        record = json.loads(RESULTS.read_text())
    record.update(machine=platform.platform(), cpus=os.cpu_count())
    for name in args.matrices:
        path = MATRICES[name](args.cache)
        if path is None:
            print(f"{name}: no cached LD, skipped")
            continue
        runs = []
        if not args.skip_old:
            runs.append(dict(_run(_WORKER, path, "old", "none"), method="old (scipy eigsh)"))
        for threads in (1, 2):
            for stop_above in ("none", "0.01"):
                row = _run(_WORKER, path, "new", stop_above, threads=threads)
                runs.append(dict(row, method=f"new (Lanczos, stop_above={stop_above})"))
        entry = {"path": path, "runs": runs}
        if name == "chr22_sparse":
            truth_file = Path(f"{path}.dense_eigvalsh.json")
            if not truth_file.exists():
                truth_file.write_text(json.dumps(_run(_DENSE, path, "dense", "none")))
            entry["dense_truth"] = json.loads(truth_file.read_text())
        record["matrices"][name] = entry
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=1))
    print(f"{'matrix':<13} {'method':<36} {'thr':>3} {'seconds':>8} {'peak MB':>8} "
          f"{'LD MB':>7} {'estimate':>10} {'products':>8} {'load':>5}")
    for name, entry in record["matrices"].items():
        for r in entry["runs"]:
            products = "/".join(map(str, r.get("lanczos_products") or []))
            print(f"{name:<13} {r['method']:<36} {r['numba_threads']:>3} {r['seconds']:>8.2f} "
                  f"{r['peak_rss_mb']:>8.0f} {r['rss_after_loading_ld_mb']:>7.0f} "
                  f"{r['estimate']:>10.4f} {products!s:>8} {r['load_average_before'][0]:>5.2f}")
        if "dense_truth" in entry:
            print(f"{name}: dense eigvalsh lowest {entry['dense_truth']['lowest'][0]:.4f}")
    return record


if __name__ == "__main__":
    main()
