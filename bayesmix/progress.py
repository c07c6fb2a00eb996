"""Progress of long steps, shown the way the output is read.

Callers say what the work is (a total, a unit, a description) and report what is done; this
module decides how to show it:

- on a terminal (stderr is a tty, or a Jupyter kernel): a tqdm bar on stderr, removed when
  the work ends;
- off a terminal (log files, cluster jobs): lines through the ``bayesmix`` logger at INFO,
  one each time another 10% is done and at least every 30 s, with done/total, the unit,
  the elapsed time and the time left, e.g.
  ``LD (sparse): 2,048/10,000 SNPs (20%), 0:00:14 elapsed, 0:00:55 left``;
- ``progress=False``: nothing.

Work shorter than ``delay`` seconds (2 s by default) shows nothing at all, so quick steps of
a pipeline do not fill the logs. Times are wall-clock seconds.

Usage::

    with Progress(len(blocks), desc="LD eigen blocks", unit="block", progress=progress) as p:
        for block in blocks:
            ...
            p.update(1)

or ``for block in track(blocks, desc=..., unit="block", progress=progress): ...``.
"""

from __future__ import annotations

import logging
import math
import sys
import time

log = logging.getLogger("bayesmix")

#: seconds of work before anything is shown
DELAY = 2.0
#: share of the total between two lines (line mode)
EVERY = 0.1
#: longest gap between two lines, in seconds (line mode)
INTERVAL = 30.0


def mode(progress) -> str:
    """How progress is shown: "bar", "lines" or "off".

    ``progress``: True or None (automatic: "bar" on a terminal or in a Jupyter kernel, else
    "lines"), False ("off"), or one of the mode names to force it.
    """
    if progress is False:
        return "off"
    if progress is None or progress is True:
        return "bar" if _interactive() else "lines"
    if progress in ("bar", "lines", "off"):
        return progress
    raise ValueError(f"progress must be True, False, 'bar', 'lines' or 'off', not {progress!r}")


def _interactive() -> bool:
    stream = sys.stderr
    try:
        if stream is not None and stream.isatty():
            return True
    except (AttributeError, ValueError):
        pass
    return "ipykernel" in sys.modules


def format_seconds(seconds: float) -> str:
    """H:MM:SS (hours unbounded), e.g. 0:01:05; '?' when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(max(seconds, 0.0)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Progress of one piece of work (see the module docstring).

    Parameters
    ----------
    total : amount of work in ``unit`` (None when unknown: lines then come every
        ``interval`` seconds, without a percentage or time left).
    desc : what the work is, e.g. "LD (sparse)".
    unit : what is counted, plural, e.g. "SNPs", "blocks".
    progress : True/None (automatic), False, "bar" or "lines" (:func:`mode`).
    delay : seconds before anything is shown.
    every : share of ``total`` between two lines (line mode).
    interval : longest gap between two lines in seconds (line mode).
    initial : work already done before this run (e.g. restored from a checkpoint); the time
        left is extrapolated from the work done in this run only.
    logger : where lines go (the ``bayesmix`` logger by default).
    clock : a monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(self, total: float | None, *, desc: str, unit: str = "items", progress=True,
                 delay: float = DELAY, every: float = EVERY, interval: float = INTERVAL,
                 initial: float = 0, logger: logging.Logger | None = None, clock=time.monotonic):
        self.total = None if total is None else float(total)
        self.desc, self.unit = desc, unit
        self.mode = mode(progress)
        self.delay, self.every, self.interval = float(delay), float(every), float(interval)
        self.logger = logger or log
        self.clock = clock
        self.done = float(initial)
        self.initial = float(initial)
        self.note = ""
        self.lines = 0
        self.start = self.clock()
        self._last_line = self.start
        self._next_share = self._milestone_after(self.done)
        self._bar = None
        self._closed = False
        if self.mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=f" {unit}",
                             leave=False, delay=delay, file=sys.stderr, dynamic_ncols=True)

    def _milestone_after(self, done: float) -> float:
        """The next multiple of ``every * total`` strictly above ``done``."""
        if not self.total or self.every <= 0:
            return math.inf
        step = self.every * self.total
        return (math.floor(done / step + 1e-9) + 1) * step

    def update(self, n: float = 1, note: str | None = None) -> None:
        """Record ``n`` more units done; ``note`` replaces the short status text shown after
        the counts (e.g. a current estimate)."""
        self.done += n
        if note is not None:
            self.note = note
        if self.mode == "bar":
            if note is not None:
                self._bar.set_postfix_str(note, refresh=False)
            self._bar.update(n)
        elif self.mode == "lines":
            now = self.clock()
            if now - self.start < self.delay:
                return
            if self.total and self.done >= self.total:
                return      # the last line comes from close()
            if self.done + 1e-9 * (self.total or 1) >= self._next_share or (
                    now - self._last_line >= self.interval):
                self._emit(now)

    def _emit(self, now: float, final: bool = False) -> None:
        elapsed = now - self.start
        counts = self._counts()
        if final:
            text = f"{self.desc}: {counts} done in {format_seconds(elapsed)}"
        else:
            text = f"{self.desc}: {counts}, {format_seconds(elapsed)} elapsed"
            if self.total:
                text += f", {format_seconds(self.seconds_left(now))} left"
        if self.note:
            text += f"; {self.note}"
        self.logger.info("%s", text)
        self.lines += 1
        self._last_line = now
        self._next_share = self._milestone_after(self.done)

    def _counts(self) -> str:
        if self.total:
            pct = 100.0 * self.done / self.total
            return f"{_num(self.done)}/{_num(self.total)} {self.unit} ({pct:.0f}%)"
        return f"{_num(self.done)} {self.unit}"

    def seconds_left(self, now: float | None = None) -> float:
        """Time left, extrapolated from the rate of the work done in this run (inf when
        nothing was done yet)."""
        now = self.clock() if now is None else now
        ran = self.done - self.initial
        if not self.total or ran <= 0:
            return math.inf
        return (now - self.start) / ran * max(self.total - self.done, 0.0)

    def close(self, stopped: bool = False) -> None:
        """End the display; in line mode a last line says how long the work took, or where
        it stopped (``stopped``), when it ran long enough to show progress."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.mode == "lines":
            now = self.clock()
            if stopped and self.lines:
                self.note = ""
                self.logger.info("%s: stopped at %s after %s", self.desc, self._counts(),
                                 format_seconds(now - self.start))
            elif not stopped and now - self.start >= self.delay:
                self._emit(now, final=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(stopped=exc_type is not None)


def track(iterable, *, desc: str, unit: str = "items", total: float | None = None,
          progress=True, **options):
    """Iterate over ``iterable``, counting one unit per item (``total`` defaults to its
    length when it has one); ``options`` as in :class:`Progress`."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    with Progress(total, desc=desc, unit=unit, progress=progress, **options) as bar:
        for item in iterable:
            yield item
            bar.update(1)


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.1f}"
