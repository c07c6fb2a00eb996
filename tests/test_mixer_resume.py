"""MiXeR fits that survive interrupts: signals at random moments, then resumes, end with
exactly the fit of an uninterrupted run (parameters, likelihoods, traces, covariance, CIs);
checkpoint refusals; progress lines per evaluations.

The truth is the uninterrupted fit of the same call (itself tested for recovery of simulated
parameters in tests/test_mixer_fit.py and tests/test_mixer_bivariate_fit.py).
"""

import math
import random
import signal
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from bayesmix import interrupt
from bayesmix.errors import InputError
from bayesmix.inference.mle import EvaluationMonitor, fit_univariate
from bayesmix.inference.mle_bivariate import fit_bivariate
from bayesmix.models.mixer import simulate_z_from_model
from bayesmix.prepare.mixer_data import MixerData
from interrupting import SIGNALS, attempt

UNI_SEQUENCE = ("infinitesimal", "constrained", "fast", "convolve")
BI_SEQUENCE = ("infinitesimal", "fast", "full")


@pytest.fixture(autouse=True)
def one_blas_thread():
    """L-BFGS-B calls BLAS: threads spinning on a shared 2-core machine cost 6 ms a call."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def uni_data():
    rng = np.random.default_rng(3)
    data, r = MixerData.synthetic(300, block_size=100, n=1.5e5, rng=rng)
    pi = 15 / data.n_ref
    z, _ = simulate_z_from_model(data, r, (pi, 0.3 / (pi * data.sum_het), 1.0), rng=rng)
    return data.with_z(z)


@pytest.fixture(scope="module")
def bi_data():
    from test_mixer_bivariate_fit import _simulate

    data, _ = _simulate(3, pi1=0.02, pi2=0.02, pi12=0.03, rho12=0.6, rho0=0.2, n_snps=600)
    with threadpool_limits(1):
        uni = [fit_univariate(d, sequence=("infinitesimal", "constrained", "fast"), n_draws=0)
               for d in (data.trait1, data.trait2)]
    return data, uni


def fit_uni(data, **options):
    return fit_univariate(data, sequence=UNI_SEQUENCE, n_draws=100, **options)


def fit_bi(bi, **options):
    data, uni = bi
    return fit_bivariate(data, uni[0], uni[1], sequence=BI_SEQUENCE, kmax=20, n_draws=100,
                         full_grid=5, full_evals=30, **options)


def same(a, b) -> bool:
    """Exact equality of nested results (NaN equal to NaN)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (float, np.floating, np.ndarray)):
        return np.array_equal(a, b, equal_nan=True)
    return a == b


def assert_same_fit(fit, reference):
    for name in ("method", "params", "loglik", "cov_free", "ci", "criteria", "options"):
        assert same(getattr(fit, name), getattr(reference, name)), name
    assert len(fit.steps) == len(reference.steps)
    for s, r in zip(fit.steps, reference.steps):
        for name in ("name", "method", "optimizer", "params", "loglik", "n_evals", "trace"):
            assert same(getattr(s, name), getattr(r, name)), (s.name, name)


def interrupted_fits_resume_bit_identical(run, tmp_path, seed, interruptions=20):
    """Trials until ``interruptions`` signals have stopped a fit (at most 3 per trial)."""
    run(None, False)                               # compile, warm caches
    t0 = time.perf_counter()
    reference = run(None, False)
    duration = time.perf_counter() - t0
    rng = random.Random(seed)
    stops, latencies = 0, []
    for trial in range(3 * interruptions):
        if stops >= interruptions:
            break
        ckpt = tmp_path / f"{trial}.ckpt"
        n_stops = 0
        while True:
            stopping = n_stops < 3 and rng.random() < 0.8
            delay = rng.uniform(0.0, duration) if stopping else 3600.0
            out = attempt(lambda: run(ckpt, True), delay, rng.choice(SIGNALS))
            if out.result is not None:
                break
            assert out.stopped and out.signum in SIGNALS
            n_stops += 1
            latencies.append(out.latency)
        assert list(tmp_path.iterdir()) == []      # no checkpoint or temporary left
        assert_same_fit(out.result, reference)
        stops += n_stops
    assert stops >= interruptions
    assert max(latencies) < 2.0      # the next likelihood evaluation (ms here; slack for load)
    return reference


def test_univariate_fit_resumes_bit_identical(uni_data, tmp_path):
    reference = interrupted_fits_resume_bit_identical(
        lambda ckpt, resume: fit_uni(uni_data, checkpoint=ckpt, resume=resume), tmp_path,
        "uni")
    assert np.isfinite(reference.cov_free).all()   # the CIs compared are real numbers


def test_bivariate_fit_resumes_bit_identical(bi_data, tmp_path):
    reference = interrupted_fits_resume_bit_identical(
        lambda ckpt, resume: fit_bi(bi_data, checkpoint=ckpt, resume=resume), tmp_path, "bi")
    assert np.isfinite(reference.cov_free).all()
    assert [s.name for s in reference.steps] == list(BI_SEQUENCE)


def stop_at_evaluation(monkeypatch, n):
    """A stop request seen at the n-th poll (deterministic stand-in for a signal)."""
    polls = []

    def check():
        polls.append(1)
        if len(polls) >= n:
            raise interrupt.Interrupted(signal.SIGTERM)

    monkeypatch.setattr(interrupt, "check", check)


def test_checkpoint_holds_finished_stages_and_refuses_other_settings(uni_data, tmp_path,
                                                                     monkeypatch):
    import json

    ckpt = tmp_path / "fit.ckpt"
    reference = fit_uni(uni_data)
    with monkeypatch.context() as m:
        stop_at_evaluation(m, 100)     # inside the constrained stage (stage 1 takes ~35)
        with pytest.raises(interrupt.Interrupted):
            fit_uni(uni_data, checkpoint=ckpt, fingerprint={"--trait1-file": "aaa"})
    state = json.loads((ckpt / "state.json").read_text())
    assert [s["stage"] for s in state["state"]["stages"]] == ["infinitesimal"]
    assert state["state"]["stages"][0]["result"]["step"]["trace"] == \
        reference.steps[0].trace

    with pytest.raises(InputError, match="--resume"):
        fit_uni(uni_data, checkpoint=ckpt, fingerprint={"--trait1-file": "aaa"})
    with pytest.raises(InputError) as err:
        fit_uni(uni_data.with_z(uni_data.z * 1.01), checkpoint=ckpt, resume=True,
                fingerprint={"--trait1-file": "bbb"})
    assert "fit1.data" in str(err.value)
    assert "--trait1-file: aaa in the checkpoint, now bbb" in str(err.value)
    with pytest.raises(InputError, match=r"fit1\.kmax: 1000 in the checkpoint, now 50"):
        fit_uni(uni_data, checkpoint=ckpt, resume=True, kmax=50,
                fingerprint={"--trait1-file": "aaa"})
    fit = fit_uni(uni_data, checkpoint=ckpt, resume=True, fingerprint={"--trait1-file": "aaa"})
    assert_same_fit(fit, reference)
    assert not ckpt.exists()


def test_bivariate_stop_inside_overlap_comparison(bi_data, tmp_path, monkeypatch):
    """Stopped in the last unit (the maximal-overlap refit): every earlier unit is restored,
    including the random draws behind the CIs."""
    import json

    ckpt = tmp_path / "fit2.ckpt"
    polls = []
    with monkeypatch.context() as m:
        m.setattr(interrupt, "check", lambda: polls.append(1))
        reference = fit_bi(bi_data)
    with monkeypatch.context() as m:
        stop_at_evaluation(m, len(polls) - 3)
        with pytest.raises(interrupt.Interrupted):
            fit_bi(bi_data, checkpoint=ckpt)
    state = json.loads((ckpt / "state.json").read_text())["state"]
    assert [s["stage"] for s in state["stages"]] == [*BI_SEQUENCE, "standard errors",
                                                      "minimal overlap"]
    fit = fit_bi(bi_data, checkpoint=ckpt, resume=True)
    assert_same_fit(fit, reference)


def test_progress_lines_every_n_evaluations():
    now = [0.0]
    lines = []
    monitor = EvaluationMonitor(lines.append, every=10, seconds=15, clock=lambda: now[0])
    monitor.begin("convolve")
    values = -1000.0 + np.sqrt(np.arange(1, 61))       # improving log-likelihoods
    for v in values:
        now[0] += 1.0
        monitor.poll()
        monitor.record(v)
    # the clock advances 1 s per evaluation: every 10th evaluation, 15 s apart at least
    assert lines == [f"     convolve: {k} evaluations, logL={values[k - 1]:.3f} "
                     f"(best {values[k - 1]:.3f}), {k}s" for k in (20, 40, 60)]
    assert monitor.n_evals == 60 and monitor.best == values[-1]
    assert math.isclose(monitor.best, -1000 + math.sqrt(60))


CHILD = r"""
import os, pickle, sys
from pathlib import Path
import numpy as np
from threadpoolctl import threadpool_limits
from bayesmix import interrupt
from bayesmix.inference.mle import fit_univariate
from bayesmix.models.mixer import simulate_z_from_model
from bayesmix.prepare.mixer_data import MixerData

ckpt, out, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
stop = mode == "stop"
threadpool_limits(1)
rng = np.random.default_rng(3)
data, r = MixerData.synthetic(300, block_size=100, n=1.5e5, rng=rng)
pi = 15 / data.n_ref
z, _ = simulate_z_from_model(data, r, (pi, 0.3 / (pi * data.sum_het), 1.0), rng=rng)
data = data.with_z(z)

if stop:  # SIGTERM right after the first stage is saved (no race with a busy machine)
    from bayesmix.checkpoint import Checkpoint

    saving = Checkpoint.save

    def save_then_stop(self, state):
        saving(self, state)
        os.kill(os.getpid(), 15)

    Checkpoint.save = save_then_stop

with interrupt.handling_signals():
    try:
        fit = fit_univariate(data, sequence=%r, n_draws=100,
                             checkpoint=None if mode == "whole" else ckpt, resume=not stop)
    except BaseException as exc:
        stopped = interrupt.interrupted_from(exc)
        if stopped is None:
            raise
        sys.exit(stopped.exit_code)
with open(out, "wb") as fh:
    pickle.dump(fit, fh)
""" % (UNI_SEQUENCE,)


def test_resume_in_a_new_process_is_bit_identical(tmp_path):
    """A SIGTERM stops one process (exit status 128 + 15, finished stages kept); another
    process resumes; its fit equals an uninterrupted fit exactly (made in a third process with
    the same thread settings: the last bits of parallel sums depend on the thread count, which
    the test process may have changed)."""
    import pickle
    import subprocess
    import sys

    ckpt, out = tmp_path / "fit.ckpt", tmp_path / "fit.pkl"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    whole = tmp_path / "whole.pkl"
    done = subprocess.run([sys.executable, str(script), str(ckpt), str(whole), "whole"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with open(whole, "rb") as fh:
        reference = pickle.load(fh)
    first = subprocess.run([sys.executable, str(script), str(ckpt), str(out), "stop"],
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 128 + signal.SIGTERM, first.stderr
    assert (ckpt / "state.json").exists() and not out.exists()
    second = subprocess.run([sys.executable, str(script), str(ckpt), str(out), "resume"],
                            capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert not ckpt.exists()
    with open(out, "rb") as fh:
        assert_same_fit(pickle.load(fh), reference)
