"""The output guard: directory checks, free space, one live run per output prefix."""

import multiprocessing
import os
import shutil
import signal

import pytest

from bayesmix.errors import InputError
from bayesmix.io.outputs import check_output_files, claim_outputs, mcmc_output_bytes


def test_missing_directory_is_named_and_not_created(tmp_path):
    prefix = tmp_path / "no" / "such" / "out"
    with pytest.raises(InputError, match="does not exist") as caught:
        with claim_outputs(prefix):
            pass
    assert str(tmp_path / "no" / "such") in str(caught.value)
    assert not (tmp_path / "no").exists()


def test_a_file_where_the_directory_should_be(tmp_path):
    (tmp_path / "results").write_text("a file")
    with pytest.raises(InputError, match="is not a directory"):
        with claim_outputs(tmp_path / "results" / "out"):
            pass


def test_a_prefix_ending_with_a_separator_is_refused(tmp_path):
    """--out data/ wrote data/.parRes, data/.snpRes ... (hidden files; audit)."""
    with pytest.raises(InputError, match="ends with a directory separator") as caught:
        with claim_outputs(f"{tmp_path}/"):
            pass
    assert os.path.join(f"{tmp_path}/", "run1") in str(caught.value)
    assert not list(tmp_path.iterdir())


def test_an_unwritable_directory():
    """/proc/self refuses new files even to root (these tests run as root, so chmod would
    not show anything)."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc")
    with pytest.raises(InputError, match="cannot write to the output directory /proc/self"):
        with claim_outputs("/proc/self/out"):
            pass


def test_not_enough_space_names_both_numbers(tmp_path):
    need = 1 << 62
    with pytest.raises(InputError) as caught:
        with claim_outputs(tmp_path / "out", expected_bytes=need):
            pass
    message = str(caught.value)
    assert f"({need} bytes)" in message and "are free" in message
    free = shutil.disk_usage(tmp_path).free
    shown = int(message.split("are free")[0].rsplit("(", 1)[1].split()[0])
    assert abs(shown - free) < 1 << 30  # the free bytes of that file system
    with claim_outputs(tmp_path / "out", expected_bytes=1 << 20):  # enough: no error
        pass


def test_an_output_file_in_the_way_is_named(tmp_path, monkeypatch):
    """A directory where an output file goes, or a read-only output file, is refused naming
    it and the option to change; a missing or writable file is not."""
    (tmp_path / "out.parRes").mkdir()
    (tmp_path / "out.snpRes").write_text("an old result")
    check_output_files([tmp_path / "out.snpRes", tmp_path / "out.nc"])
    with pytest.raises(InputError, match="is a directory, where this run writes") as caught:
        check_output_files([tmp_path / "out.snpRes", tmp_path / "out.parRes"], "--out")
    assert str(caught.value).startswith(f"{tmp_path / 'out.parRes'}: ")
    assert "choose another --out" in str(caught.value)
    # root may write anything, so the permission is faked for the file (tests run as root)
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: (
        os.fspath(path) != str(tmp_path / "out.snpRes") and real(path, mode)))
    with pytest.raises(InputError, match="is read-only") as caught:
        check_output_files([tmp_path / "out.snpRes"])
    assert str(tmp_path / "out.snpRes") in str(caught.value)


def test_the_lock_file_holds_the_run_and_goes_away(tmp_path):
    prefix = tmp_path / "out"
    with claim_outputs(prefix, command="bayesmix-gctb --bayes R --out out") as lock:
        assert lock == tmp_path / "out.lock"
        text = lock.read_text()
        assert f"pid={os.getpid()}" in text and "command=bayesmix-gctb --bayes R" in text
        with pytest.raises(InputError, match=f"pid {os.getpid()}"):  # a second claim, same process
            with claim_outputs(prefix):
                pass
        assert lock.exists()
    assert not lock.exists()
    with pytest.raises(RuntimeError):
        with claim_outputs(prefix):
            raise RuntimeError("a failing run")
    assert not lock.exists()
    with claim_outputs(prefix):  # free again
        pass


def _hold(prefix, ready, release):
    with claim_outputs(prefix, command="bayesmix-gctb --sbayes R --out other"):
        ready.set()
        release.wait(60)


def test_a_live_run_in_another_process_is_refused_until_it_ends(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    prefix = tmp_path / "out"
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(prefix), ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(InputError) as caught:
            with claim_outputs(prefix):
                pass
        message = str(caught.value)
        assert f"pid {holder.pid}" in message and "--sbayes R --out other" in message
        assert "another bayesmix run" in message
    finally:
        release.set()
        holder.join(60)
    assert holder.exitcode == 0
    assert not (tmp_path / "out.lock").exists()
    with claim_outputs(prefix):
        pass


def test_a_killed_holder_leaves_no_lock(tmp_path):
    """SIGKILL skips every cleanup: the file stays, but the kernel released the lock."""
    ctx = multiprocessing.get_context("spawn")
    prefix = tmp_path / "out"
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(prefix), ready, release))
    holder.start()
    assert ready.wait(60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(60)
    assert (tmp_path / "out.lock").exists()
    with claim_outputs(prefix) as lock:
        assert f"pid={os.getpid()}" in lock.read_text()
    assert not lock.exists()


def test_output_estimate_covers_a_real_run(tmp_path):
    """The estimate is on the high side of the bytes a small BayesR run writes (outputs,
    netCDF, stored draws and its checkpoint), yet within a few times of them."""
    import numpy as np

    from bayesmix.inference.chain import ChainSettings, run_chain
    from bayesmix.inference.gibbs import make_steps
    from bayesmix.inference.results import ChainsResult
    from bayesmix.models.alphabet import AlphabetModel
    from bayesmix.prepare.alphabet_data import AlphabetData
    from bayesmix.report.gctb import write_outputs

    from chain_models import signal_at_call

    rng = np.random.default_rng(0)
    m = 2000
    dosages = rng.binomial(2, 0.3, (100, m)).astype(float)
    model = AlphabetModel(AlphabetData.from_arrays(dosages, rng.normal(size=100)), "R")
    settings = ChainSettings(chain_length=60, burn_in=20, thin=2, out_freq=0, seed=1,
                             store_snp_draws=True, checkpoint=str(tmp_path / "out.ckpt"))
    steps = make_steps(model)
    signal_at_call(steps[0], 59)  # stopped one iteration before the end: a full checkpoint
    chain = run_chain(model, steps, settings)
    result = ChainsResult.from_chains(model, settings, [chain])
    paths = write_outputs(result, tmp_path / "out") + [tmp_path / "out.ckpt.chain0"]
    written = sum(os.path.getsize(p) for p in paths)
    nonzero = max(len(idx) for _, idx, _ in chain.snp_draws)
    estimate = mcmc_output_bytes(m, 4, settings.n_kept_draws, 1, nonzero_snps=nonzero)
    assert written <= estimate <= 3 * written + (1 << 20), (written, estimate)
    everything = mcmc_output_bytes(m, 4, settings.n_kept_draws, 1)
    assert everything >= estimate  # every SNP non-zero: the upper bound
