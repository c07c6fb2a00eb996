"""bayesmix.interrupt: immediate vs deferred signals, nesting, listeners, forks, exit codes."""

import multiprocessing
import os
import pickle
import signal
import time

import pytest

from bayesmix import interrupt
from bayesmix.interrupt import Interrupted


def send(signum):
    """Signal this process and give the handler a chance to run (it runs in the main thread
    at the next bytecode; a sleep is interrupted by it)."""
    os.kill(os.getpid(), signum)
    time.sleep(0.05)


@pytest.fixture(autouse=True)
def clean_state():
    before = {s: signal.getsignal(s) for s in interrupt.SIGNALS}
    interrupt.forget()
    yield
    interrupt.forget()
    assert {s: signal.getsignal(s) for s in interrupt.SIGNALS} == before  # handlers restored


def test_exit_codes_follow_the_shell_convention():
    """A shell reports a process ended by signal N as 128 + N (Linux numbers)."""
    assert Interrupted(signal.SIGINT).exit_code == 130
    assert Interrupted(signal.SIGTERM).exit_code == 143
    assert Interrupted(signal.SIGHUP).exit_code == 129
    assert "SIGTERM" in str(Interrupted(signal.SIGTERM))
    assert isinstance(Interrupted(), KeyboardInterrupt)  # `except Exception` does not catch it


def test_interrupted_pickles_with_its_signal():
    copy = pickle.loads(pickle.dumps(Interrupted(signal.SIGHUP)))
    assert isinstance(copy, Interrupted) and copy.signum == signal.SIGHUP


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_immediate_mode_raises_at_once(signum):
    with interrupt.handling_signals():
        with pytest.raises(Interrupted) as caught:
            send(signum)
        assert caught.value.signum == signum


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_deferred_mode_only_records(signum):
    with interrupt.handling_signals():
        with interrupt.deferred():
            assert not interrupt.requested()
            send(signum)  # no exception
            assert interrupt.requested() and interrupt.requested_signal() == signum
            with pytest.raises(Interrupted):
                interrupt.check()
        # the request stays for the rest of the run: later loops stop at their first boundary
        assert interrupt.requested()
        with interrupt.deferred():
            assert interrupt.requested()
    assert not interrupt.requested()  # forgotten when the run's handlers are removed


def test_the_first_request_wins():
    with interrupt.handling_signals(), interrupt.deferred():
        send(signal.SIGTERM)
        send(signal.SIGINT)
        assert interrupt.requested_signal() == signal.SIGTERM


def test_deferred_alone_installs_and_forgets():
    """A Python user without handling_signals: Ctrl-C inside the block is recorded, and the
    handlers it found (and no request) are back after it. (Python's default for SIGINT is
    ``default_int_handler``, but SIG_IGN when the process started with SIGINT ignored, e.g.
    run in the background of a non-interactive shell.)"""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with interrupt.deferred():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        send(signal.SIGTERM)  # with the default handler this would end the test process
        assert interrupt.requested()
    assert not interrupt.requested()
    assert {s: signal.getsignal(s) for s in before} == before


def test_nested_deferred_blocks():
    """An inner block's exit neither removes the handlers nor forgets the request; the
    outer block is still deferred."""
    with interrupt.deferred():
        with interrupt.deferred():
            pass
        send(signal.SIGINT)  # still deferred after the inner exit: no exception
        assert interrupt.requested()
        with interrupt.deferred():
            assert interrupt.requested()
        assert interrupt.requested()
    assert not interrupt.requested()


def test_immediate_again_after_a_deferred_block():
    with interrupt.handling_signals():
        with interrupt.deferred():
            pass
        with pytest.raises(Interrupted):
            send(signal.SIGHUP)


def test_listeners_receive_every_signal_and_cannot_break_the_handler():
    received = []

    def failing(signum):
        raise RuntimeError("a broken listener")

    with interrupt.handling_signals(), interrupt.deferred():
        with interrupt.passed_on(received.append), interrupt.passed_on(failing):
            send(signal.SIGTERM)
            send(signal.SIGINT)
        send(signal.SIGHUP)  # after the block: not passed on
    assert received == [signal.SIGTERM, signal.SIGINT]


def _child_reports(queue):
    send(signal.SIGTERM)  # inherited deferred mode: recorded, not fatal, not passed on
    queue.put((interrupt.requested_signal(), os.getpid()))


def test_a_forked_child_inherits_deferred_mode_but_not_the_listeners(tmp_path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    record = tmp_path / "passed_on"

    def listener(signum):  # leaves a trace whichever process calls it
        with open(record, "a") as fh:
            fh.write(f"{os.getpid()} {signum}\n")

    with interrupt.deferred(), interrupt.passed_on(listener):
        child = ctx.Process(target=_child_reports, args=(queue,))
        child.start()
        signum, pid = queue.get(timeout=30)
        child.join(30)
    assert child.exitcode == 0
    assert signum == signal.SIGTERM and pid == child.pid
    assert not record.exists()  # the parent's listener was not called in the child
    assert not interrupt.requested()  # and the child's request is its own


def test_a_child_forked_after_a_request_starts_with_it():
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    with interrupt.deferred():
        send(signal.SIGHUP)
        child = ctx.Process(target=lambda q: q.put(interrupt.requested_signal()), args=(queue,))
        child.start()
        assert queue.get(timeout=30) == signal.SIGHUP
        child.join(30)


def test_interrupted_from_finds_the_interrupt_behind_other_errors():
    """A signal raising while a compiled function returns surfaces as a SystemError whose
    cause is the interrupt (``raise ... from``) or whose context it is (raised while
    handling it)."""
    def with_cause(inner):
        try:
            try:
                raise inner
            except BaseException as exc:
                raise SystemError("CPUDispatcher(<f>) returned a result with an exception "
                                  "set") from exc
        except SystemError as outer:
            return outer

    def with_context(inner):
        try:
            try:
                raise inner
            except BaseException:
                raise ValueError("while cleaning up")
        except ValueError as outer:
            return outer

    found = interrupt.interrupted_from(with_cause(Interrupted(signal.SIGTERM)))
    assert isinstance(found, Interrupted) and found.signum == signal.SIGTERM
    found = interrupt.interrupted_from(with_context(KeyboardInterrupt()))
    assert isinstance(found, Interrupted) and found.signum == signal.SIGINT
    assert interrupt.interrupted_from(with_cause(ValueError("a real error"))) is None
    assert interrupt.interrupted_from(ValueError("plain")) is None
    looped = ValueError("a")
    looped.__context__ = ValueError("b")
    looped.__context__.__context__ = looped
    assert interrupt.interrupted_from(looped) is None  # a cycle ends the search


def test_a_programs_late_signal_does_not_kill_finished_work():
    """A console script's run (until_exit): after its work, SIGINT/SIGTERM/SIGHUP are ignored
    up to the process end (they would otherwise report a finished run as killed); a Python
    caller gets its previous handlers back."""
    import subprocess
    import sys

    code = ("import os, signal\n"
            "from bayesmix import interrupt\n"
            "with interrupt.handling_signals(until_exit=True):\n"
            "    pass\n"
            "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):\n"
            "    os.kill(os.getpid(), s)\n"
            "print('survived')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "survived", done.stderr
    before = signal.getsignal(signal.SIGINT)
    with interrupt.handling_signals():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
