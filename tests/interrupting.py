"""Test helper: run a computation while a thread sends a signal to this process at a random
moment, as a user's Ctrl-C, a cluster's SIGTERM or a closed terminal's SIGHUP would."""

from __future__ import annotations

import os
import signal
import threading
import time

from bayesmix import interrupt

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Attempt:
    """Outcome of :func:`attempt`: ``result`` (None when stopped), ``stopped`` (an
    Interrupted came out), ``signum`` and ``latency`` (seconds from the signal to the
    exception)."""

    def __init__(self):
        self.result = None
        self.stopped = False
        self.signum = None
        self.latency = None
        self.sent_at = None


def attempt(run, delay: float, signum: int) -> Attempt:
    """``run()`` under :func:`bayesmix.interrupt.handling_signals` (as a command line runs),
    with ``signum`` sent to this process after ``delay`` seconds unless ``run`` ended first."""
    out = Attempt()

    def send():
        out.sent_at = time.perf_counter()
        os.kill(os.getpid(), signum)

    with interrupt.handling_signals():
        timer = threading.Timer(delay, send)
        try:
            timer.start()
            try:
                out.result = run()
            finally:
                timer.cancel()
                timer.join()
                time.sleep(0.002)     # a signal sent just now is handled here, not later
        except BaseException as exc:  # noqa: BLE001 - sorting interrupts from failures
            stop = interrupt.interrupted_from(exc)
            if stop is None:
                raise
            out.stopped = True
            out.signum = stop.signum
            out.latency = time.perf_counter() - out.sent_at
    return out
