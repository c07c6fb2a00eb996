"""LD builds that survive interrupts: random-moment signals, then resumes, give the matrix of
an uninterrupted build bit for bit; checkpoint refusals name what is wrong.

The truth is the uninterrupted build of the same call (build_ld / eigen_decompose_blocks
without a checkpoint), itself checked against brute-force r in tests/test_ld_compute.py.
"""

import random
import signal

import numpy as np
import pytest

from bayesmix import interrupt
from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.ld.compute import build_ld
from bayesmix.ld.eigen import eigen_decompose_blocks
from interrupting import SIGNALS, attempt

N_SNPS = 300


@pytest.fixture(scope="module")
def snps(bfile22):
    return Genotypes.open(bfile22).snps["snp"].iloc[:N_SNPS].tolist()


def csr(ld):
    return [np.asarray(a) for a in ld.csr_arrays()]


def assert_same_ld(a, b):
    for x, y in zip(csr(a), csr(b)):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    assert a.snps.equals(b.snps)
    assert a.meta == b.meta


def run_to_completion(run, ckpt, rng, duration, max_stops=3):
    """Interrupt ``run(resume)`` at random moments (up to ``max_stops`` times), resume until
    it completes; returns (result, number of stops, the stops' latencies)."""
    stops, latencies = 0, []
    while True:
        stopping = stops < max_stops and rng.random() < 0.8
        delay = rng.uniform(0.0, duration) if stopping else 3600.0
        out = attempt(lambda: run(True), delay, rng.choice(SIGNALS))
        if out.result is not None:
            # nothing left: no checkpoint, no half-deleted or temporary folder next to it
            assert list(ckpt.parent.iterdir()) == [], "files left after a finished build"
            return out.result, stops, latencies
        assert out.stopped
        stops += 1
        latencies.append(out.latency)


def timed(run):
    import time

    t0 = time.perf_counter()
    result = run()
    return result, time.perf_counter() - t0


@pytest.mark.parametrize("kind,options,interruptions", [
    ("sparse", dict(block_size=16), 20),
    ("r2", dict(window_kb=300, block_size=8, max_memory_mb=0.3), 20),
    ("shrunk", dict(cm_per_mb=1.0, block_size=32, missing="pairwise"), 8),
])
def test_interrupted_builds_resume_bit_identical(bfile22, snps, tmp_path, kind, options,
                                                  interruptions):
    """Trials until ``interruptions`` signals have stopped a build (at most 3 per trial)."""
    def run(resume, ckpt=None):
        return build_ld(bfile22, kind, extract=snps, progress=False, checkpoint=ckpt,
                        resume=resume, threads=1, **options)

    run(False)                                    # compile, warm caches
    reference, duration = timed(lambda: run(False))
    rng = random.Random(f"ld-{kind}")
    total_stops, latencies = 0, []
    for trial in range(3 * interruptions):
        if total_stops >= interruptions:
            break
        ckpt = tmp_path / f"{kind}{trial}.ckpt"
        result, stops, lat = run_to_completion(lambda resume: run(resume, ckpt), ckpt, rng,
                                               duration)
        assert_same_ld(result, reference)
        total_stops += stops
        latencies += lat
    assert total_stops >= interruptions
    assert max(latencies) < 1.0           # stopped at a block boundary within a second


def test_eigen_blocks_resume_bit_identical(bfile22, snps, tmp_path):
    def run(resume, ckpt=None):
        return eigen_decompose_blocks(bfile22, block_snps=25, extract=snps, progress=False,
                                      checkpoint=ckpt, resume=resume)

    run(False)
    reference, duration = timed(lambda: run(False))
    rng = random.Random("eigen")
    total_stops = 0
    for trial in range(60):
        if total_stops >= 20:
            break
        ckpt = tmp_path / f"eigen{trial}.ckpt"
        result, stops, _ = run_to_completion(lambda resume: run(resume, ckpt), ckpt, rng,
                                             duration)
        for name in ("block_ptr", "rank_ptr", "eigenvalues", "eigenvectors", "positive_sum"):
            a, b = getattr(result, name), getattr(reference, name)
            assert a.dtype == b.dtype and np.array_equal(a, b), name
        total_stops += stops
    assert total_stops >= 20     # interruptions, at most 3 per trial


def stop_at_poll(monkeypatch, n):
    """Make the build see a stop request at its n-th poll (deterministically; it polls
    before each column chunk and after each row block)."""
    polls = []

    def requested():
        polls.append(1)
        return len(polls) >= n

    monkeypatch.setattr(interrupt, "requested", requested)
    monkeypatch.setattr(interrupt, "requested_signal", lambda: signal.SIGTERM)


def test_partial_checkpoint_then_refusals_then_resume(bfile22, snps, tmp_path, monkeypatch):
    ckpt = tmp_path / "out.ckpt"
    reference = build_ld(bfile22, "sparse", extract=snps, block_size=16, progress=False)
    with monkeypatch.context() as m:
        stop_at_poll(m, 10)
        with pytest.raises(interrupt.Interrupted) as stopped:
            build_ld(bfile22, "sparse", extract=snps, block_size=16, progress=False,
                     checkpoint=ckpt, fingerprint={"--bfile": "digest-one"})
    assert stopped.value.exit_code == 128 + signal.SIGTERM
    assert (ckpt / "state.json").exists()

    # an existing checkpoint without --resume
    with pytest.raises(InputError, match="--resume"):
        build_ld(bfile22, "sparse", extract=snps, block_size=16, progress=False,
                 checkpoint=ckpt, fingerprint={"--bfile": "digest-one"})
    # other settings: each differing entry is named, with its old and new value
    with pytest.raises(InputError, match=r"ld\.block_size: 16 in the checkpoint, now 32"):
        build_ld(bfile22, "sparse", extract=snps, block_size=32, progress=False,
                 checkpoint=ckpt, resume=True, fingerprint={"--bfile": "digest-one"})
    with pytest.raises(InputError) as err:
        build_ld(bfile22, "r2", extract=snps, block_size=16, progress=False, checkpoint=ckpt,
                 resume=True, fingerprint={"--bfile": "digest-two"})
    assert "ld.kind: sparse in the checkpoint, now r2" in str(err.value)
    assert "--bfile: digest-one in the checkpoint, now digest-two" in str(err.value)
    with pytest.raises(InputError, match=r"ld\.snps"):   # other SNPs
        build_ld(bfile22, "sparse", extract=snps[:-1], block_size=16, progress=False,
                 checkpoint=ckpt, resume=True, fingerprint={"--bfile": "digest-one"})
    # an eigen build cannot take over an LD build's checkpoint
    with pytest.raises(InputError, match="checkpoint of build_ld"):
        eigen_decompose_blocks(bfile22, block_snps=25, extract=snps, checkpoint=ckpt,
                               resume=True, progress=False)

    resumed = build_ld(bfile22, "sparse", extract=snps, block_size=16, progress=False,
                       checkpoint=ckpt, resume=True, fingerprint={"--bfile": "digest-one"})
    assert_same_ld(resumed, reference)
    assert not ckpt.exists()


def test_resume_without_checkpoint_starts_over_and_garbage_is_refused(bfile22, snps, tmp_path,
                                                                      caplog):
    ckpt = tmp_path / "none.ckpt"
    with caplog.at_level("DEBUG", logger="bayesmix"):   # (command lines warn: check_resume)
        build_ld(bfile22, "sparse", extract=snps[:40], progress=False, checkpoint=ckpt,
                 resume=True)
    assert "starting from the beginning" in caplog.text
    ckpt.mkdir()
    with pytest.raises(InputError, match="not a bayesmix checkpoint"):
        build_ld(bfile22, "sparse", extract=snps[:40], progress=False, checkpoint=ckpt,
                 resume=True)


def test_bytes_appended_after_the_recorded_state_are_ignored(bfile22, snps, tmp_path,
                                                             monkeypatch):
    """A run killed between appending a block and recording it leaves extra bytes; the
    resume overwrites them."""
    ckpt = tmp_path / "torn.ckpt"
    reference = build_ld(bfile22, "sparse", extract=snps, block_size=16, progress=False)
    with monkeypatch.context() as m:
        stop_at_poll(m, 6)
        with pytest.raises(interrupt.Interrupted):
            build_ld(bfile22, "sparse", extract=snps, block_size=16, progress=False,
                     checkpoint=ckpt)
    for name, dtype in (("counts", np.int64), ("indices", np.int32), ("values", np.float32)):
        with open(ckpt / f"{name}.bin", "ab") as fh:
            fh.write(np.arange(7, dtype=dtype).tobytes())
    resumed = build_ld(bfile22, "sparse", extract=snps, block_size=16, progress=False,
                       checkpoint=ckpt, resume=True)
    assert_same_ld(resumed, reference)


def test_progress_lines_per_block(bfile22, snps, caplog, monkeypatch):
    """Off a terminal the build logs rows done out of the total as the blocks finish."""
    import bayesmix.progress as progress

    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress.Progress.__init__, "__kwdefaults__",
                        dict(progress.Progress.__init__.__kwdefaults__, delay=0.0))
    with caplog.at_level("INFO", logger="bayesmix"):
        build_ld(bfile22, "sparse", extract=snps[:100], block_size=10, progress="lines")
    got = [r.getMessage() for r in caplog.records if r.getMessage().startswith("LD (sparse)")]
    counts = [line.split(": ")[1].split(" SNPs")[0] for line in got]
    assert counts == [f"{k}/100" for k in range(10, 100, 10)] + ["100/100"]
    assert got[-1].startswith("LD (sparse): 100/100 SNPs (100%) done in")
