"""Work beyond one process, on Dask: bayesmix schedules nothing itself.

Commands with independent pieces of work (LD row pieces, ...) hand them to a
``dask.distributed`` client as tasks, one task per piece, and gather the results in the order
of the pieces, so the result is the serial run's. Where the client comes from:

- ``--cluster local:N`` (Python: ``connect(cluster="local:N")``): a ``LocalCluster`` of N
  worker processes with one thread each on this machine, started for the command and closed
  after it;
- ``--dask-scheduler ADDRESS`` (Python: ``connect(scheduler=ADDRESS)`` or any ``Client``
  passed as ``client=``): a running scheduler, e.g. one that dask-jobqueue's
  ``SLURMCluster`` / ``PBSCluster`` / ``SGECluster`` started (docs/scale.md). Workers must
  see the same file system as the command (inputs are read and pieces written by path).

A worker that dies mid-task (killed, out of memory, node lost) makes the scheduler run its
tasks again on another worker; pieces already finished are files and are not recomputed.
Progress is shown as tasks finish (:mod:`bayesmix.progress`). Dask is an optional
dependency (``pip install "bayesmix[dask]"``); without it these options are refused with
that instruction.
"""

from __future__ import annotations

import contextlib
import threading

from bayesmix.errors import InputError
from bayesmix.progress import Progress

INSTALL = 'pip install "bayesmix[dask]"'


def _distributed():
    try:
        import distributed
    except ImportError as err:  # pragma: no cover - the test extra installs it
        raise InputError(f"running on Dask needs dask.distributed: {INSTALL}") from err
    return distributed


def parse_cluster(text: str) -> int:
    """The number of workers of a ``local:N`` cluster specification."""
    kind, _, count = str(text).partition(":")
    if kind != "local" or not count.isdigit() or int(count) < 1:
        raise InputError(f"--cluster takes local:N (N worker processes on this machine), not "
                         f"{text!r}; for a cluster scheduler start it with dask-jobqueue and "
                         "pass its address with --dask-scheduler")
    return int(count)


@contextlib.contextmanager
def connect(scheduler: str | None = None, cluster: str | None = None):
    """A ``distributed.Client`` for the scheduler at ``scheduler`` or a new ``local:N``
    ``cluster`` (closed on exit), or None when neither is given (run in this process)."""
    if scheduler and cluster:
        raise InputError("give --dask-scheduler or --cluster, not both")
    if not scheduler and not cluster:
        yield None
        return
    distributed = _distributed()
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="30s")
        except OSError as err:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from err
        with client:
            yield client
        return
    workers = parse_cluster(cluster)
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local, \
            distributed.Client(local) as client:
        yield client


def worker_count(client) -> int:
    """Worker threads the scheduler has now (at least 1)."""
    return max(1, sum(client.nthreads().values()))


def run_tasks(client, function, pieces, *, desc: str, unit: str = "pieces", progress=True,
              on_result=None, stop=None, retries: int = 2):
    """``[function(piece) for piece in pieces]`` as Dask tasks, in the order of ``pieces``.

    Each piece is one task (retried ``retries`` times if it raises, e.g. on a transient
    file-system error; tasks of a worker that died are rerun by the scheduler without
    counting as a retry).
    An error of a task cancels the others and is raised here. Progress counts finished tasks;
    ``on_result(k, result)`` is called here as the task of ``pieces[k]`` finishes. ``stop``:
    a callable polled while waiting (every 0.2 s and as a task ends); once it returns True
    the unfinished tasks are cancelled and their results are None (Dask does not interrupt a
    task already running on a worker: it finishes there unless its worker ends).
    """
    distributed = _distributed()
    pieces = list(pieces)
    futures = [client.submit(function, piece, pure=False, retries=retries) for piece in pieces]
    order = {future.key: k for k, future in enumerate(futures)}
    results = [None] * len(futures)
    # set as any task ends, so that polling ``stop`` waits no longer than that (a fixed
    # 0.2 s sleep added 0.1-0.2 s to every command that waits on tasks)
    ended = threading.Event()
    for future in futures:
        future.add_done_callback(lambda _: ended.set())
    try:
        with Progress(len(futures), desc=desc, unit=unit, progress=progress) as bar:
            finished = distributed.as_completed(futures)
            while not finished.is_empty():
                if stop is not None and stop():
                    client.cancel(futures)
                    break
                ended.clear()
                batch = finished.next_batch(block=stop is None)
                if not batch:
                    ended.wait(0.2)
                for future in batch:
                    k = order[future.key]
                    results[k] = future.result()
                    bar.update(1)
                    if on_result is not None:
                        on_result(k, results[k])
    except BaseException:
        client.cancel(futures)
        raise
    return results
