"""NUTS on MiXeR: the cost estimate logged (and warned about) before sampling, and progress
lines per chain off a terminal."""

import logging
import time

import numpy as np
import pytest

from bayesmix.models import mixer as M
from bayesmix.prepare.mixer_data import MixerData


def test_cost_estimate_worked_by_hand():
    # 4 chains on 2 cores: 2 rounds x 1000 iterations x 10 steps x 0.02 s = 400 s
    assert M.nuts_cost_seconds(0.02, chains=4, cores=2, tune=500, draws=500,
                               steps=10) == pytest.approx(400.0)
    # 3 chains on 2 cores still take 2 rounds; 1 core: 3
    assert M.nuts_cost_seconds(1.0, chains=3, cores=2, tune=1, draws=1, steps=1) == 4.0
    assert M.nuts_cost_seconds(1.0, chains=3, cores=1, tune=1, draws=1, steps=1) == 6.0


def test_timing_measures_one_evaluation():
    class Slow:
        calls = 0

        def logp_grad(self, params):
            Slow.calls += 1
            time.sleep(0.02)
            return 0.0, np.zeros(3)

    seconds = M.time_logp_grad(Slow(), (0.1, 1.0, 1.0), repeats=2)
    assert Slow.calls == 3                 # a warm-up call, then the timed ones
    assert 0.02 <= seconds < 0.2


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(5)
    data, r = MixerData.synthetic(2000, rng=rng, n=1e5)
    params = (0.02, 0.3 / (0.02 * data.sum_het), 1.0)
    z, _ = M.simulate_z_from_model(data, r, params, rng=rng)
    return data.with_z(z), dict(zip(M.PARAM_NAMES, params))


def warnings_logged(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
            and r.getMessage().startswith("NUTS is expected to take")]


def test_convolve_cost_warning_suggests_the_fast_likelihood(small, caplog, monkeypatch):
    class Stop(Exception):
        pass

    def no_graph(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(M, "UnivariateMixer", no_graph)     # stop before compiling a graph
    monkeypatch.setattr(M, "NUTS_WARN_SECONDS", 1e9)
    with caplog.at_level(logging.INFO, logger="bayesmix"), pytest.raises(Stop):
        M.sample_nuts(small[0], method="convolve", draws=500, tune=500, start=small[1])
    assert warnings_logged(caplog) == []
    monkeypatch.setattr(M, "NUTS_WARN_SECONDS", 0.0)
    with caplog.at_level(logging.INFO, logger="bayesmix"), pytest.raises(Stop):
        M.sample_nuts(small[0], method="convolve", draws=500, tune=500, start=small[1])
    (warning,) = warnings_logged(caplog)
    assert "--extract" in warning and "--nuts" in warning and "'fast'" in warning


def test_sample_nuts_logs_its_cost_and_chain_progress(small, caplog, monkeypatch):
    data, start = small
    monkeypatch.setattr(M, "NUTS_WARN_SECONDS", 0.0)
    monkeypatch.setattr(M._NutsProgressLines, "options", {"delay": 0.0})
    with caplog.at_level(logging.INFO, logger="bayesmix"):
        idata = M.sample_nuts(data, method="fast", draws=20, tune=20, chains=2, seed=1,
                              start=start, progress="lines")
    assert idata.posterior["pi"].shape == (2, 20)
    text = [r.getMessage() for r in caplog.records if r.name == "bayesmix"]
    estimate = [t for t in text if t.startswith("NUTS (fast likelihood, 2000 tag SNPs)")]
    assert len(estimate) == 1 and "2 chains x (20 tune + 20 draws)" in estimate[0]
    (warning,) = warnings_logged(caplog)
    assert "--extract" in warning and "'fast'" not in warning
    for chain in (1, 2):   # a line per 10% of each chain's 40 iterations, then a closing line
        lines = [t for t in text if t.startswith(f"NUTS chain {chain}/2: ")]
        assert [t.split(": ")[1].split(" iterations")[0] for t in lines] == \
            [f"{k}/40" for k in range(4, 40, 4)] + ["40/40"]
        assert "leapfrog steps per iteration" in lines[0]
        assert "tuning" in lines[0] and "sampling" in lines[-2]


@pytest.mark.parametrize("at", [15, 30])     # in tuning, in sampling
def test_a_signal_during_sampling_is_not_a_finished_run(small, monkeypatch, at):
    """PyMC swallows the KeyboardInterrupt of a signal and returns the draws so far (or fails
    to build a trace of tuning draws only); under a command line's signal handling
    sample_nuts raises Interrupted instead."""
    import os
    import signal

    from bayesmix import interrupt

    data, start = small
    calls = []
    original = M._NutsProgressLines.__call__

    def signalling(self, trace=None, draw=None):
        calls.append(1)
        if len(calls) == at:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, trace=trace, draw=draw)

    monkeypatch.setattr(M._NutsProgressLines, "__call__", signalling)
    with interrupt.handling_signals(), pytest.raises(interrupt.Interrupted) as stop:
        M.sample_nuts(data, method="fast", draws=20, tune=20, chains=1, seed=1, start=start,
                      progress="lines")
    assert stop.value.signum == signal.SIGTERM
    assert at <= len(calls) < 40          # sampling stopped early
