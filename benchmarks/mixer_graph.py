"""Cost of fitting MiXeR through the model graph (the function pm.find_MAP optimises) rather
than by calling the numba kernels directly.

    NUMBA_NUM_THREADS=1 python benchmarks/mixer_graph.py [--snps 3000 20000] [--repeat 50]

For each size (synthetic block LD, tags = reference) and each likelihood (infinitesimal,
fast, convolve), one evaluation of logp + gradient is timed three ways, best of
``--repeat`` in CPU seconds: the kernel called directly (``UnivariateLikelihood.logp_grad``), the compiled
model graph under :func:`bayesmix.inference.model_objective.graph_mode` (Python VM linker:
what the fit sequences use) and under PyTensor's default NUMBA linker. The one-off cost
of building the model graph and compiling it (plus its first call) is timed for both
modes in this process; a cold pytensor cache makes the NUMBA mode's first compile far
slower (run with ``PYTENSOR_FLAGS=base_compiledir=$(mktemp -d)`` to see it). Results go to
benchmarks/results/mixer_graph.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def cpu_seconds(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def best_of(fn, repeat: int) -> float:
    """Least CPU seconds of this process over ``repeat`` calls after a warm-up (CPU time, not
    wall time: the numbers stay meaningful on a shared machine; run with
    NUMBA_NUM_THREADS=1)."""
    fn()
    return min(cpu_seconds(fn) for _ in range(repeat))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snps", type=int, nargs="+", default=[3000, 20000])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args(argv)

    import pytensor

    from bayesmix.inference.mle import UNIVARIATE_SPACE, univariate_objective
    from bayesmix.inference.model_objective import ModelObjective
    from bayesmix.models.mixer import UnivariateLikelihood, UnivariateMixer, simulate_z_from_model
    from bayesmix.prepare.mixer_data import MixerData

    rows = []
    for n_snps in args.snps:
        rng = np.random.default_rng(1)
        base, r = MixerData.synthetic(n_snps, rng=rng)
        pi = 300 / n_snps
        theta = np.array([pi, 0.3 / (pi * base.sum_het), 1.0])
        z, _ = simulate_z_from_model(base, r, theta, rng=rng)
        data = base.with_z(z)
        u = UNIVARIATE_SPACE.free(theta)
        for method in ("infinitesimal", "fast", "convolve"):
            like = UnivariateLikelihood(data, method)
            direct = best_of(lambda: like.logp_grad(theta), args.repeat)
            t0 = time.process_time()
            graph = univariate_objective(data, method)
            graph.logp_grad(u)
            graph_setup = time.process_time() - t0
            graph_eval = best_of(lambda: graph.logp_grad(u), args.repeat)
            t0 = time.process_time()
            numba_graph = ModelObjective(UnivariateMixer(data, method=method),
                                         mode=pytensor.compile.mode.get_default_mode())
            numba_graph.logp_grad(u)
            numba_setup = time.process_time() - t0
            numba_eval = best_of(lambda: numba_graph.logp_grad(u), args.repeat)
            assert np.isclose(graph.logp(u), like.logp(theta), rtol=1e-12)
            row = {"tags": n_snps, "method": method, "direct_eval_s": direct,
                   "graph_vm_eval_s": graph_eval, "graph_numba_eval_s": numba_eval,
                   "graph_vm_setup_s": graph_setup, "graph_numba_setup_s": numba_setup}
            rows.append(row)
            print(f"{n_snps:>7d} {method:>13s}: direct {1e3 * direct:8.3f} ms, graph (VM) "
                  f"{1e3 * graph_eval:8.3f} ms, graph (NUMBA) {1e3 * numba_eval:8.3f} ms; "
                  f"setup VM {graph_setup:5.2f} s, NUMBA {numba_setup:5.2f} s", flush=True)
    out = {"rows": rows, "machine": platform.platform(), "cpus": os.cpu_count(),
           "numba_threads": int(os.environ.get("NUMBA_NUM_THREADS", "0")) or None,
           "clock": "process CPU time",
           "load_average": os.getloadavg(), "repeat": args.repeat}
    path = HERE / "results" / "mixer_graph.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
