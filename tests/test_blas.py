"""bayesmix.kernels.blas: every loaded BLAS on one thread, one threadpoolctl controller per
process, rebuilt after new imports."""

import importlib
import sys

from threadpoolctl import threadpool_info, threadpool_limits

from bayesmix.kernels import blas


def test_every_blas_runs_one_thread_inside_and_the_controller_is_reused_until_an_import():
    with threadpool_limits(2, user_api="blas"):   # the test processes run BLAS on 1 (conftest)
        before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        with blas.single_threaded_blas():
            inside = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
            first = blas._controller
    assert max(before) == 2
    assert inside and all(lib["num_threads"] == 1 for lib in inside)
    with blas.single_threaded_blas():
        assert blas._controller is first
    fresh = next(name for name in ("colorsys", "sched", "tabnanny", "wave")
                 if name not in sys.modules)
    importlib.import_module(fresh)
    with blas.single_threaded_blas():
        assert blas._controller is not first   # a new module may have loaded another BLAS


def test_scipys_own_blas_imported_inside_the_context_runs_one_thread():
    """In a process that has not imported scipy.linalg yet (a CLI run entering the context
    before the LD repair imports it), SciPy's OpenBLAS, loaded next to numpy's, is limited
    as well once scipy.linalg is imported inside the context."""
    import json
    import os
    import subprocess

    code = (
        "import json, sys\n"
        "import numpy\n"
        "from bayesmix.kernels.blas import single_threaded_blas\n"
        "with single_threaded_blas():\n"
        "    from scipy.linalg import eigh\n"
        "    from threadpoolctl import threadpool_info\n"
        "    libs = [(lib['filepath'], lib['num_threads']) for lib in threadpool_info()\n"
        "            if lib['user_api'] == 'blas']\n"
        "print(json.dumps(libs))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "2",
                               "OMP_NUM_THREADS": "2"}, check=True)
    libs = json.loads(done.stdout)
    assert libs and all(threads == 1 for _, threads in libs), libs
