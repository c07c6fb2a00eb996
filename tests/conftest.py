"""Test-wide settings: scratch compile and LD-check caches, Python's compiled modules kept, a
less frequent garbage collector, and a fork-safe numba threading layer."""

import atexit
import gc
import os
import shutil
import tempfile

# pytensor caches compiled graphs keyed on Op props only; a scratch dir per session avoids
# loading stale kernels after an edit (bayesmix.ops.fused keys its Ops on the kernel source).
# It is removed when the session (or xdist worker) ends.
if "PYTENSOR_FLAGS" not in os.environ:
    _compiledir = tempfile.mkdtemp(prefix="bayesmix-pytensor-")
    atexit.register(shutil.rmtree, _compiledir, ignore_errors=True)
    # No creation traces on graph variables (as bayesmix's console scripts,
    # bayesmix.cli.common.drop_graph_traces): reading eight stack lines for each variable
    # took 5% of the option-effect runs.
    os.environ["PYTENSOR_FLAGS"] = f"base_compiledir={_compiledir},traceback__limit=0"
# The robust LD check's memo (bayesmix.ld.check_cache) in a scratch dir per session, so no test
# reads a value another session (or an older checkout) stored.
if "BAYESMIX_LD_CHECK_CACHE" not in os.environ:
    _check_cache = tempfile.mkdtemp(prefix="bayesmix-ld-check-")
    atexit.register(shutil.rmtree, _check_cache, ignore_errors=True)
    os.environ["BAYESMIX_LD_CHECK_CACHE"] = _check_cache
# GNU OpenMP aborts on fork(); pm.sample(cores=2) forks.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
# BLAS on one thread per process (set before numpy loads it; subprocesses inherit it): the
# two xdist workers already keep both cores busy, and OpenBLAS's second thread spins on the
# other worker's core. Measured on test_mixer_fit.py + test_mixer_bivariate_fit.py alone:
# 60 -> 45 s of user CPU for the same wall time; the whole suite with one BLAS and numba
# thread took 648 instead of 705 s. numba keeps its pool of threads (NUMBA_NUM_THREADS):
# tests compare thread counts and the --threads options raise them; each test starts on one
# of them (:func:`_one_numba_thread`). Tests of BLAS threading set their own limits.
for _blas_threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_blas_threads, "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Some machines set PYTHONDONTWRITEBYTECODE; every command the tests run in a subprocess
# (docs pages, notebooks, CLI runs) then compiled bayesmix's sources again (~0.5 s of CPU
# each). Subprocesses keep Python's compiled modules, as on a user's machine.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
# Python's cyclic garbage collector runs less often in a test process, as it does in a
# console script's (bayesmix.cli.common.PROGRAM_GC_THRESHOLD), since the tests call the
# commands' main() in-process: at the default generation-0 threshold (700) the ~500,000
# long-lived objects of PyMC, PyTensor, numba and pytest were scanned again in 18 full
# collections, 5.3 s of test_cli_options_mixer.py's 44 s (2.7 s in all at 50,000; peak
# memory unchanged). A warm run of the suite took 476 instead of 568 s (one run each; the
# docs pages, subprocesses that this does not touch, differed by 38 s of it, so part is the
# host). Tests of object lifetimes call gc.collect() themselves.
gc.set_threshold(50_000, *gc.get_threshold()[1:])

import pytest  # noqa: E402

from bayesmix.data import example_bfile  # noqa: E402


#: The slowest test files, slowest first (on the 2-core machine, warm / fresh checkout:
#: test_docs.py ~230 / 290 s, the cli_options parts 20-55 / 25-90 s, the others under 40 s).
#: With ``--dist loadfile --no-loadscope-reorder`` (pyproject.toml) xdist hands files to the
#: workers in collection order, so these start first and the many short files fill in behind
#: them: both workers finish together. (xdist's default order, most tests first, started the
#: one 15-minute test_cli_options.py three quarters of the way through, and one worker then
#: ran it alone.) Files not listed keep their alphabetical order; a stale entry only costs
#: balance.
SLOW_FIRST = [
    "test_docs.py", "test_cli_options_gctb_eigen.py", "test_cli_options_mixer.py",
    "test_cli_options_gctb.py", "test_cli_options_mixer_native.py", "test_cli_options.py",
    "test_mixer_replicates.py", "test_mixer_fit.py", "test_distributed_mcmc.py",
    "test_mixer_bivariate_plots.py", "test_interrupt_chains.py", "test_notebooks.py",
    "test_mixer_resume.py", "test_mixer_cli.py", "test_mixer_bivariate_fit.py",
    "test_composition.py", "test_mixer_bivariate_cli.py", "test_alphabet_steps.py",
    "test_hyperprior_swap.py", "test_distributed.py", "test_mixer_bivariate_model.py",
    "test_alphabet_nested.py", "test_alphabet_cli.py", "test_alphabet_examples.py",
    "test_ld_repair.py",
]


@pytest.fixture(autouse=True)
def _one_numba_thread():
    """Each test starts with numba's parallel kernels on one thread (of the pool of
    NUMBA_NUM_THREADS), as the two xdist workers already keep both cores busy: a subset of
    files heavy in in-process kernels took 146-158 instead of 161-167 s. numba's count is
    per thread and stays set, so it is reset before every test (a MiXeR command raises it to
    the pool for itself, as for users). Tests of thread counts set them explicitly
    (test_mixer_kernels.py, test_mixer_bivariate_kernels.py, test_sbayes_kernel.py)."""
    import numba

    numba.set_num_threads(1)


def pytest_collection_modifyitems(items):
    """Slow files first (:data:`SLOW_FIRST`); the order within a file is kept."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def bfile22():
    """PLINK prefix of the shipped chr22 subset (503 samples x 10,000 SNPs)."""
    return example_bfile(22)


@pytest.fixture(scope="session")
def bfile21():
    """PLINK prefix of the shipped chr21 subset (503 samples x 10,000 SNPs)."""
    return example_bfile(21)


@pytest.fixture(scope="session")
def cli_options_inputs(tmp_path_factory, bfile22):
    """Inputs of every analysis of the option tests (tests/cli_options_harness.py), built once
    per worker and shared by the test_cli_options*.py files."""
    from cli_options_harness import build_world

    return build_world(tmp_path_factory.mktemp("cli_options"), bfile22)
