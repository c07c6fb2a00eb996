"""What every command line shares: logging, the run log, errors and interrupts, exit codes.

:func:`execute` runs a parsed :class:`~bayesmix.cli.options.Invocation`:

1. logging goes to the ``bayesmix`` logger only (stderr; other libraries' INFO messages stay
   quiet);
2. signals stop the run gracefully (:mod:`bayesmix.interrupt`);
3. the output prefix is checked and locked before any work
   (:func:`bayesmix.io.outputs.claim_outputs`), and ``OUT.log`` checked to be writable
   (:func:`bayesmix.io.outputs.check_output_files`);
4. ``OUT.log`` receives, as they happen, the command line, everything the run prints and
   logs, and the final error or interrupt message;
5. exit codes: 0 success, 1 a user-facing error (bad input, divergence), 128 + the signal
   number when interrupted. Unexpected exceptions keep their traceback (they are bugs), which
   also goes to the log.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import traceback

from bayesmix import __version__, interrupt
from bayesmix.errors import BayesmixError, InputError

log = logging.getLogger("bayesmix")

#: generation-0 threshold of Python's cyclic garbage collector in a command's own process
#: (Python's default is 700). A run's start-up creates ~400,000 long-lived objects (PyMC,
#: PyTensor, pandas, numba and their imports), and at the default the collector passes over
#: them again and again: 0.25 s of an SBayes start-up's 3 s of CPU, and about 0.03 ms per
#: MCMC iteration after it. At this threshold a start-up triggers no collection and an MCMC
#: chain (which leaves no growing cyclic garbage) almost none, while cyclic garbage is still
#: collected once a million container objects have accumulated. Library callers keep their
#: own setting: only :func:`parse_and_execute` with ``program=True`` changes it.
PROGRAM_GC_THRESHOLD = 1_000_000


def drop_graph_traces() -> None:
    """Have PyTensor record no creation trace on the graph variables of this process's run.

    By default PyTensor stores, on every variable and node it creates, the eight innermost
    stack lines outside PyTensor (read through ``linecache``), to say in an error message
    where the variable was made. Building a command's model and its step functions creates a
    few hundred to thousands of them, at ~0.5 ms each (an SBayes start-up: ~250, 0.1-0.2 s
    of CPU; MiXeR's fits and the individual-data alphabet models more). A command's graphs
    are bayesmix's own, so its process does without them (``traceback__limit`` 0):
    through ``PYTENSOR_FLAGS`` before PyTensor is imported (child processes inherit it), else
    on the live config. A ``traceback__limit`` the user set in ``PYTENSOR_FLAGS`` (to debug a
    graph) is kept (:func:`bayesmix.pytensor_default`). Only :func:`parse_and_execute` with
    ``program=True`` calls this: library callers keep PyTensor's default.
    """
    from bayesmix import pytensor_default

    pytensor_default("traceback__limit", 0)


class _ConsoleHandler(logging.Handler):
    """The ``bayesmix`` logger's stderr handler (looked up by type, so it is added once). It
    writes to whatever ``sys.stderr`` is at the time (test runners replace it)."""

    def emit(self, record):
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging's own convention
            self.handleError(record)


def setup_logging(verbose: bool = False) -> None:
    """Log the ``bayesmix`` logger's records to stderr: INFO, or DEBUG with ``verbose``.

    Only the package's logger is configured: the root logger (and with it pytensor's or
    arviz's INFO messages) is left alone.
    """
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False
    if any(isinstance(handler, _ConsoleHandler) for handler in log.handlers):
        return
    handler = _ConsoleHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)


def version_string(prog: str) -> str:
    return f"{prog} (bayesmix) {__version__}"


class RunLog:
    """What a run prints (stdout) and logs (stderr), also written to ``path`` as it happens.

    A text stream: ``print(..., file=run_log)`` and :meth:`say` go to stdout and the file;
    the ``bayesmix`` logger's records go to the file through a handler attached while the log
    is open. ``path=None`` keeps stdout only (commands without an output prefix);
    ``echo=False`` writes the file only (the log of one trait of several).
    """

    def __init__(self, path=None, *, echo: bool = True):
        self.path = path
        self.echo = echo
        self._file = open(path, "w", buffering=1) if path is not None else None
        self._handler = None
        if self._file is not None:
            self._handler = logging.StreamHandler(self._file)
            self._handler.setFormatter(logging.Formatter("%(message)s"))
            log.addHandler(self._handler)

    def write(self, text: str) -> int:
        if self.echo:
            self._to_stdout(sys.stdout.write, text)
        if self._file is not None:
            self._file.write(text)
        return len(text)

    def flush(self) -> None:
        self._to_stdout(sys.stdout.flush)
        if self._file is not None:
            self._file.flush()

    def _to_stdout(self, action, *args) -> None:
        """``action(*args)`` on stdout; when its reader has gone (``| head``), stdout becomes
        /dev/null and the run goes on: the log file keeps every line."""
        try:
            action(*args)
        except BrokenPipeError:
            import os

            self.echo = False
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
            os.close(null)

    def say(self, text: str = "") -> None:
        print(text, file=self, flush=True)

    def note(self, text: str) -> None:
        """A line for the log file only (its console copy went to stderr)."""
        if self._file is not None:
            self._file.write(text.rstrip("\n") + "\n")

    def close(self) -> None:
        if self._handler is not None:
            log.removeHandler(self._handler)
            self._handler = None
        if self._file is not None:
            self._file.close()
            self._file = None


def parse_and_execute(spec, argv, runner, *, parser=None, verbose: bool = False,
                      program: bool = False) -> int:
    """Parse ``argv`` for ``spec`` (:func:`bayesmix.cli.options.parse`) and :func:`execute`
    it; a refused command line is a one-line error with exit code 1.

    ``parser``: a parser of several commands (subcommands); ``spec`` is then a callable
    taking the parsed namespace and returning ``(spec, runner, verbose)``; ``runner`` is
    unused. Without a subcommand the help is printed (exit code 2). ``program``: this is the
    process's own run (a console script), so signals after the work are ignored and the
    garbage collector runs less often (:data:`PROGRAM_GC_THRESHOLD`) and PyTensor records no
    creation traces (:func:`drop_graph_traces`).
    """
    from bayesmix.cli.options import build_parser, parse

    if program:
        gc.set_threshold(PROGRAM_GC_THRESHOLD, *gc.get_threshold()[1:])
        drop_graph_traces()

    try:
        namespace = (parser or build_parser(spec)).parse_args(argv)
        if parser is not None:
            if getattr(namespace, "command", None) is None:
                parser.print_help()
                return 2
            spec, runner, verbose = spec(namespace)
        setup_logging(verbose)
        invocation = parse(spec, argv, namespace=namespace)
    except BayesmixError as exc:
        setup_logging(verbose)
        return _fail(None, f"error: {exc}", 1)
    code = execute(invocation, runner, program=program)
    if program:
        end_process(code)
    return code


def end_process(code: int) -> None:
    """End this command's process with exit status ``code`` once its work is done: the
    ``atexit`` handlers run (logging, multiprocessing and Dask clean-ups), the standard
    streams are flushed, and the process exits without the interpreter's teardown of every
    module it imported (0.3-0.6 s of CPU after an SBayes run, most of it freeing PyMC's and
    PyTensor's objects one by one; the operating system frees the memory at once). While a
    thread that is not a daemon still runs, the normal exit waits for it: then
    ``sys.exit``."""
    import atexit
    import os
    import threading

    main = threading.main_thread()
    if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more to write
            pass
    os._exit(code)


def execute(invocation, runner, *, program: bool = False) -> int:
    """Run ``runner(invocation, run_log)`` with the shared plumbing (module docstring)."""
    from bayesmix.io.outputs import check_output_files, claim_outputs

    spec, args = invocation.spec, invocation.args
    prefix = getattr(args, spec.log_option) if spec.log_option else None
    run_log = None
    with interrupt.handling_signals(until_exit=program):
        try:
            with claim_outputs(prefix, command=" ".join([spec.prog, *invocation.argv])) \
                    if prefix is not None else _nothing():
                if prefix is not None:
                    check_output_files([f"{prefix}.log"], spec.option(spec.log_option).name)
                run_log = RunLog(f"{prefix}.log" if prefix is not None else None)
                run_log.say(version_string(spec.prog))
                run_log.say(f"Options: {' '.join(invocation.argv)}")
                run_log.say(f"Analysis: {invocation.label}")
                run_log.say()
                rc = runner(invocation, run_log)
                if rc in (None, 0) and interrupt.requested():
                    run_log.say(f"({interrupt.signal_name(interrupt.requested_signal())} "
                                "arrived after the work had finished: every output is "
                                "complete)")
                return 0 if rc is None else int(rc)
        except BayesmixError as exc:
            return _fail(run_log, f"error: {exc}", 1)
        except BaseException as exc:  # noqa: BLE001 - interrupts, then bugs with traceback
            stopped = interrupt.interrupted_from(exc)
            if stopped is None:
                if run_log is not None:
                    run_log.note("".join(traceback.format_exception(exc)))
                raise
            kept = getattr(stopped, "kept", None) or "nothing was finished to keep"
            return _fail(run_log, f"interrupted by {interrupt.signal_name(stopped.signum)}: "
                                  f"{kept}", stopped.exit_code)
        finally:
            if run_log is not None:
                run_log.close()


def stopped(run_log, kept: str) -> int:
    """A runner that stopped at a boundary on a signal reports what it kept (stderr and the
    log); returns the exit code, 128 + the signal number."""
    signum = interrupt.requested_signal() or 2
    return _fail(run_log, f"interrupted by {interrupt.signal_name(signum)}: {kept}",
                 128 + signum)


@contextlib.contextmanager
def dask_client(args):
    """The Dask client of :func:`~bayesmix.cli.options.dask_options` (None without
    ``--cluster``/``--dask-scheduler``), closed on exit."""
    from bayesmix.distributed import connect

    if args.pieces and not (args.cluster or args.dask_scheduler):
        raise InputError("--pieces applies to builds on Dask (--cluster or --dask-scheduler)")
    with connect(args.dask_scheduler, args.cluster) as client:
        yield client


def dask_where(args) -> str:
    """Where Dask tasks run, for the run log ('' in this process)."""
    return (f"{args.cluster} Dask workers" if args.cluster
            else f"the Dask scheduler at {args.dask_scheduler}" if args.dask_scheduler else "")


def dask_note(args) -> str:
    """How an LD build ran on Dask, for the run log ('' in one process)."""
    where = dask_where(args)
    return f", {args.pieces or 'automatic'} row pieces on {where}" if where else ""


def kept_on_interrupt(kept: str):
    """Context manager: an :class:`~bayesmix.interrupt.Interrupted` raised inside gets
    ``kept`` (what was saved, and how to continue) for the final message."""
    return _Kept(kept)


class _Kept:
    def __init__(self, kept):
        self.kept = kept

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        stop = interrupt.interrupted_from(exc) if exc is not None else None
        if stop is not None:
            stop.kept = self.kept
            if stop is not exc:
                raise stop from None
        return False


def _fail(run_log, message: str, code: int) -> int:
    print(message, file=sys.stderr, flush=True)
    if run_log is not None:
        run_log.note(message)
    return code


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
