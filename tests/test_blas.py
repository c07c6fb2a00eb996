"""bayesmix.kernels.blas: every loaded BLAS on one thread, one threadpoolctl controller per
process, rebuilt after new imports."""

import importlib
import sys

from threadpoolctl import threadpool_info

from bayesmix.kernels import blas


def test_every_blas_runs_one_thread_inside_and_the_controller_is_reused_until_an_import():
    with blas.single_threaded_blas():
        inside = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
        first = blas._controller
    assert inside and all(lib["num_threads"] == 1 for lib in inside)
    with blas.single_threaded_blas():
        assert blas._controller is first
    fresh = next(name for name in ("colorsys", "sched", "tabnanny", "wave")
                 if name not in sys.modules)
    importlib.import_module(fresh)
    with blas.single_threaded_blas():
        assert blas._controller is not first   # a new module may have loaded another BLAS
