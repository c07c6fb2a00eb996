"""LD builds on Dask (bayesmix.distributed, build_ld(client=...), ``--cluster``) give the serial
build's matrix bit for bit, survive a worker killed mid-run, and keep finished pieces.

The cluster is a dask.distributed LocalCluster of 2 worker processes (one thread each), as
``--cluster local:2`` starts it; the genotypes are the shipped 1000 Genomes chr22 subset.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from bayesmix.data import example_bfile  # noqa: E402
from bayesmix.distributed import connect, parse_cluster  # noqa: E402
from bayesmix.errors import InputError  # noqa: E402
from bayesmix.ld.compute import build_ld  # noqa: E402
from bayesmix.ld.store import merge  # noqa: E402

KINDS = {"r2": {"r2min": 0.01, "window_kb": 3000}, "shrunk": {"cm_per_mb": 1.0},
         "sparse": {}}


@pytest.fixture(scope="module")
def client():
    with connect(cluster="local:2") as c:
        yield c


@pytest.fixture(scope="module")
def bfile(tmp_path_factory):
    """3,000 SNPs of the shipped chr22 subset (a --extract list keeps the builds quick)."""
    prefix = example_bfile(22)
    snps = np.loadtxt(f"{prefix}.bim", dtype=str, usecols=1)[:3000]
    extract = tmp_path_factory.mktemp("dask") / "extract.txt"
    extract.write_text("\n".join(snps) + "\n")
    return prefix, extract


def same_matrix(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(np.asarray(a.indptr), np.asarray(b.indptr))
    np.testing.assert_array_equal(np.asarray(a.indices), np.asarray(b.indices))
    np.testing.assert_array_equal(np.asarray(a.data), np.asarray(b.data))
    assert a.snps["snp"].tolist() == b.snps["snp"].tolist()


@pytest.mark.parametrize("kind, dtype", [("r2", "float32"), ("shrunk", "int16"),
                                         ("sparse", "int16")])
def test_dask_build_is_the_serial_build(client, bfile, kind, dtype):
    prefix, extract = bfile
    options = dict(extract=extract, dtype=dtype, progress=False, **KINDS[kind])
    serial = build_ld(prefix, kind, **options)
    on_dask = build_ld(prefix, kind, client=client, pieces=7, **options)
    same_matrix(on_dask, serial)
    assert on_dask.meta["merged_pieces"] == 7
    if kind == "r2":   # whole rows, with their weak-LD sums
        np.testing.assert_array_equal(on_dask.weak_ld, serial.weak_ld)
        np.testing.assert_array_equal(on_dask.weak_ld_halves, serial.weak_ld_halves)
        np.testing.assert_array_equal(on_dask.weak_ld4, serial.weak_ld4)
    else:
        assert on_dask.weak_ld is None and serial.weak_ld is None


@pytest.mark.parametrize("kind", ["full", "shrunk"])
def test_upper_triangle_pieces_merge_into_the_serial_matrix(bfile, kind):
    """The pieces a Dask build makes (rows i..j, entries j >= i only: half the arithmetic of
    full rows) mirror into the serial matrix bit for bit, a one-row piece included; merge
    refuses them with a row missing, or mixed with full-row pieces."""
    prefix, extract = bfile
    options = dict(extract=extract, dtype="int16", progress=False,
                   **({"cm_per_mb": 1.0} if kind == "shrunk" else {}))
    serial = build_ld(prefix, kind, **options)
    m = serial.shape[0]
    cuts = [1, 1000, 1001, 2200, m + 1]
    pieces = [build_ld(prefix, kind, snp_range=(a, b - 1), upper_piece=True, **options)
              for a, b in zip(cuts[:-1], cuts[1:])]
    assert pieces[0].nnz < build_ld(prefix, kind, snp_range=(1, 999), **options).nnz
    same_matrix(merge(reversed(pieces)), serial)
    upper = merge(pieces, mirror=False)      # kept as the whole matrix's upper triangle
    same_matrix(upper, build_ld(prefix, kind, upper_piece=True, **options))
    assert upper.meta["upper_piece"] and upper.is_square and 2 * upper.nnz - m == serial.nnz
    with pytest.raises(InputError, match="cover every row"):
        merge(pieces[:-1])
    full_rows = build_ld(prefix, kind, snp_range=(cuts[-2], m), **options)
    with pytest.raises(InputError, match="cannot be merged together"):
        merge(pieces[:-1] + [full_rows])


def test_a_worker_killed_mid_build_changes_nothing(client, bfile, tmp_path):
    """SIGKILL one worker process once the first piece is written: the scheduler reruns
    its piece elsewhere (the nanny restarts the worker) and the merged matrix is the
    serial one; the finished pieces were not lost (the folder still had them when the
    worker died)."""
    prefix, extract = bfile
    options = dict(extract=extract, progress=False, window_kb=2000)
    serial = build_ld(prefix, "window", **options)
    folder = tmp_path / "pieces"
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    seen = {}

    def kill_after_first_piece():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = list(folder.glob("piece_*/meta.json")) if folder.exists() else []
            if done:
                seen["done_at_kill"] = len(done)
                os.kill(victim, signal.SIGKILL)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_after_first_piece)
    killer.start()
    on_dask = build_ld(prefix, "window", client=client, pieces=30, checkpoint=folder,
                       **options)
    killer.join()
    assert 0 < seen["done_at_kill"] < 30  # the kill landed mid-build
    same_matrix(on_dask, serial)
    assert not folder.exists()  # removed once merged
    client.wait_for_workers(2, timeout=60)


def test_resume_reuses_finished_pieces_of_the_same_plan_only(client, bfile, tmp_path):
    """An interrupted run's pieces (here: the run stopped by an error after building
    them) are reused by ``resume``; a different plan is refused."""
    prefix, extract = bfile
    options = dict(extract=extract, progress=False, window_kb=1000)
    folder = tmp_path / "out.ckpt"
    first = build_ld(prefix, "window", client=client, pieces=4, checkpoint=folder, **options)
    assert not folder.exists()
    with pytest.raises(InputError, match="resume"):  # a leftover folder needs --resume
        folder.mkdir()
        (folder / "x").write_text("")
        build_ld(prefix, "window", client=client, pieces=4, checkpoint=folder, **options)
    with pytest.raises(InputError, match="one process"):
        build_ld(prefix, "window", client=client, pieces=4, checkpoint=folder, resume=True,
                 **options)
    (folder / "x").unlink()
    again = build_ld(prefix, "window", client=client, pieces=4, checkpoint=folder,
                     resume=True, **options)
    same_matrix(again, first)


def test_cluster_option_is_checked():
    assert parse_cluster("local:3") == 3
    for bad in ("local", "local:0", "slurm:4", "4"):
        with pytest.raises(InputError, match="local:N"):
            parse_cluster(bad)
    with pytest.raises(InputError, match="not both"):
        with connect(scheduler="tcp://127.0.0.1:1", cluster="local:1"):
            pass
