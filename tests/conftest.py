"""Test-wide settings: scratch compile caches and a fork-safe numba threading layer."""

import atexit
import os
import shutil
import tempfile

# pytensor caches compiled graphs keyed on Op props only; a scratch dir per session avoids
# loading stale kernels after an edit (bayesmix.ops.fused keys its Ops on the kernel source).
# It is removed when the session (or xdist worker) ends.
if "PYTENSOR_FLAGS" not in os.environ:
    _compiledir = tempfile.mkdtemp(prefix="bayesmix-pytensor-")
    atexit.register(shutil.rmtree, _compiledir, ignore_errors=True)
    os.environ["PYTENSOR_FLAGS"] = f"base_compiledir={_compiledir}"
# GNU OpenMP aborts on fork(); pm.sample(cores=2) forks.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

from bayesmix.data import example_bfile  # noqa: E402


@pytest.fixture(scope="session")
def bfile22():
    """PLINK prefix of the shipped chr22 subset (503 samples x 10,000 SNPs)."""
    return example_bfile(22)


@pytest.fixture(scope="session")
def bfile21():
    """PLINK prefix of the shipped chr21 subset (503 samples x 10,000 SNPs)."""
    return example_bfile(21)
