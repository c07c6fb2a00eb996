"""Benchmark: time and extra memory of the block-wise PSD repair of indefinite LD.

:func:`bayesmix.ld.repair.nearest_psd_blocks` on a synthetic indefinite band matrix (``--snps``
SNPs, band ``--band`` wide on each side, r ~ U(-0.3, 0.3), int16 storage as SBayes holds LD).
Extra memory is the peak of numpy allocations during the repair (``tracemalloc``, which numpy
reports to), next to the size of the input's stored arrays: the repair reads them in place, so
it needs the repaired matrix and one dense block on top, not a float64 copy of the input.
Writes ``benchmarks/results/ld_repair_memory.json``.

Usage: python benchmarks/ld_repair_memory.py [--snps 20000] [--band 1500]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "ld_repair_memory.json"


def band_ld(m: int, band: int, seed: int = 0):
    import pandas as pd
    import scipy.sparse as sp

    from bayesmix.ld.store import LDMatrix

    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(m), band)
    cols = rows + np.tile(np.arange(1, band + 1), m)
    keep = cols < m
    values = rng.uniform(-0.3, 0.3, int(keep.sum())).astype(np.float32)
    upper = sp.csr_matrix((values, (rows[keep], cols[keep])), shape=(m, m))
    full = (upper + upper.T + sp.identity(m, dtype=np.float32, format="csr")).tocsr()
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1", "bp": np.arange(m) + 1,
                         "a1": "A", "a2": "G", "freq": 0.3})
    return LDMatrix.from_scipy(full, snps, dtype="int16")


def main(argv=None) -> dict:
    from bayesmix.ld.repair import nearest_psd_blocks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snps", type=int, default=20000)
    parser.add_argument("--band", type=int, default=1500)
    args = parser.parse_args(argv)
    ld = band_ld(args.snps, args.band)
    stored = sum(np.asarray(a).nbytes for a in (ld.indptr, ld.indices, ld.data))
    nearest_psd_blocks(band_ld(300, 20))  # compile the kernels outside the measurement
    tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    repaired, report = nearest_psd_blocks(ld)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out = {"snps": args.snps, "band": args.band, "nnz": int(ld.nnz), "n_blocks": report.n_blocks,
           "stored_input_gb": stored / 1e9, "repair_extra_peak_gb": peak / 1e9,
           "seconds": seconds, "cpu_seconds": cpu, "machine": platform.platform(),
           "python": platform.python_version()}
    print(json.dumps(out, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
