"""Graceful interrupts: SIGINT (Ctrl-C), SIGTERM and SIGHUP stop a run at a safe point.

A cluster's time limit (SLURM, PBS: SIGTERM), a closed terminal (SIGHUP) and Ctrl-C (SIGINT)
all end a run the same way: it stops where its state is consistent, keeps what is finished,
and exits with status 128 + the signal number.

Two modes, chosen by the code that is running when the signal arrives:

- **immediate** (the default once :func:`handling_signals` is active): the signal raises
  :class:`Interrupted` at once. Used while reading inputs and preparing data, where nothing
  is worth keeping; readers and the atomic writers of :mod:`bayesmix.io.files` clean up.
  Inside a numba function the raise often surfaces as numba's "returned a result with an
  exception set" ``SystemError`` (:func:`interrupted_from` finds the interrupt behind it);
  the request is recorded before the raise, so it is never lost.
- **deferred** (inside :func:`deferred`): the signal only records a request. Loops that own
  state (an MCMC iteration, an LD row block, an optimiser's function evaluation) poll
  :func:`requested` at their boundaries and stop there, so no state is ever half-updated,
  however deep inside a numba kernel the signal landed.

A request, once recorded, stays until the process ends (or, without
:func:`handling_signals`, until the outermost :func:`deferred` block exits), so every later
loop of the same run stops at its first boundary too.

Worker processes: a process forked inside :func:`deferred` inherits the handlers, the
deferred mode and any recorded request, so it stops at its own boundaries; the parent passes
each signal on to its live workers with :func:`passed_on` (listeners are not inherited by a
forked child: they belong to the process that registered them).

Python users need nothing of this: :func:`deferred` installs the handlers itself when they
are not installed (main thread only; elsewhere it only polls), so Ctrl-C in a notebook stops
an MCMC chain after its current iteration and returns the finished part.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading

log = logging.getLogger("bayesmix")

#: the signals that request a graceful stop
SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None))
                if s is not None)


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal. A ``KeyboardInterrupt``, so broad ``except Exception``
    clauses in libraries do not swallow it.

    Attributes
    ----------
    signum : the signal number (SIGINT, SIGTERM or SIGHUP).
    """

    def __init__(self, signum: int = signal.SIGINT):
        self.signum = int(signum)
        super().__init__(f"interrupted by {signal_name(signum)}")

    def __reduce__(self):  # pickled by signal number (e.g. from a worker process)
        return (type(self), (self.signum,))

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process killed by it."""
        return 128 + self.signum


def signal_name(signum: int) -> str:
    """SIGINT, SIGTERM ... for a signal number (``signal N`` for an unknown one)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class _State:
    def __init__(self):
        self.signum: int | None = None   # the first stop request, if any
        self.depth = 0                   # nesting of deferred() blocks
        self.installed = False           # our handler is active
        self.global_handlers = False     # installed by handling_signals (not by deferred)
        self.previous: dict = {}
        self.listeners: list = []        # called with the signal number (e.g. to pass it on)


_state = _State()
# listeners pass signals to this process's workers: a forked child has none of its own
os.register_at_fork(after_in_child=_state.listeners.clear)


def requested() -> bool:
    """True once a stop was requested (poll at a loop boundary and stop there)."""
    return _state.signum is not None


def requested_signal() -> int | None:
    """The signal that requested the stop, or None."""
    return _state.signum


def check() -> None:
    """Raise :class:`Interrupted` if a stop was requested (for loops that keep nothing)."""
    if _state.signum is not None:
        raise Interrupted(_state.signum)


def _handler(signum, frame):
    if _state.signum is None:
        _state.signum = signum
    for listener in list(_state.listeners):
        try:
            listener(signum)
        except Exception:  # noqa: BLE001 - a handler must not raise at a random point
            log.debug("signal listener %r failed", listener, exc_info=True)
    if _state.depth == 0:
        raise Interrupted(signum)


def _install() -> bool:
    """Install our handler for :data:`SIGNALS`; False where that is impossible (threads)."""
    if _state.installed:
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    _state.previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    _state.installed = True
    return True


def _uninstall() -> None:
    for s, handler in _state.previous.items():
        signal.signal(s, handler)
    _state.previous = {}
    _state.installed = False


@contextlib.contextmanager
def handling_signals(*, until_exit: bool = False):
    """For a whole command-line run: signals raise :class:`Interrupted` outside
    :func:`deferred` blocks and record a stop request inside them.

    ``until_exit`` (a program's own run, not a call from Python): afterwards the handlers are
    not restored but ignore signals, so one arriving between the end of the work and the
    end of the process does not kill a run whose outputs are complete.
    """
    installed = _install()
    _state.global_handlers = _state.global_handlers or installed
    try:
        yield
    finally:
        if installed:
            _uninstall()
            _state.global_handlers = False
            _state.signum = None
            if until_exit and threading.current_thread() is threading.main_thread():
                for s in SIGNALS:
                    signal.signal(s, signal.SIG_IGN)


@contextlib.contextmanager
def deferred():
    """A block whose signals only record a stop request (see :func:`requested`).

    If the handlers were not installed (a Python user, no :func:`handling_signals`), this
    installs them for the block, and forgets the request when the block ends: the caller's
    result says it was interrupted.
    """
    installed = _install()
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        if installed:
            _uninstall()
            _state.signum = None


@contextlib.contextmanager
def passed_on(listener):
    """Call ``listener(signum)`` for every signal received during the block (e.g. to pass
    the signal on to worker processes, which then stop at their own boundaries).

    The listener runs inside the signal handler, in the main thread: keep it short; an
    exception it raises is logged (debug) and ignored. Forked children do not inherit it."""
    _state.listeners.append(listener)
    try:
        yield
    finally:
        if listener in _state.listeners:  # (a forked child has none)
            _state.listeners.remove(listener)


def forget() -> None:
    """Clear a recorded request (tests, and interactive sessions that carry on)."""
    _state.signum = None


def interrupted_from(exc: BaseException) -> Interrupted | None:
    """The :class:`Interrupted` (or ``KeyboardInterrupt``) behind ``exc``, if any.

    A signal that raises while a compiled (numba) function returns surfaces as a
    ``SystemError`` whose cause is the interrupt; this finds it.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, Interrupted):
            return exc
        if isinstance(exc, KeyboardInterrupt):
            return Interrupted(signal.SIGINT)
        exc = exc.__cause__ or exc.__context__
    return None
