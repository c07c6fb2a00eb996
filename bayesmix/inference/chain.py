"""bayesmix's own MCMC driver for GCTB-scale runs of Gibbs step methods.

``pm.sample`` stores every draw of every variable and cannot thin; at M = 10^5..10^6 SNPs that
is the bottleneck. :func:`run_chain` runs the SAME step objects (any list of
``BlockedStep``) in a plain loop and adds what long genomic chains need:

- chain length, burn-in and thinning (a draw is kept after burn-in when (iter + 1) % thin == 0,
  iterations counted from 1 as GCTB does);
- per-SNP posterior summaries accumulated online over every post-burn-in iteration
  (:class:`SnpAccumulator`: mean, SD, PIP, component probabilities), so nothing of size
  draws x M is kept; thinned non-zero effects are kept sparsely only if asked;
- GCTB progress lines every ``out_freq`` iterations (Iter, Pi / NumSnp_k, NnzSnp, SigmaSq,
  ResVar, GenVar, hsq, TimeLeft);
- a seed: the same seed gives bit-identical draws (each step gets its own generator spawned
  from ``SeedSequence(seed)`` and the chain index);
- interrupts (Ctrl-C, SIGTERM, SIGHUP; :mod:`bayesmix.interrupt`): the loop runs in deferred
  mode, so a signal only records a stop request, whatever kernel it lands in. The loop checks
  for it between iterations, writes a checkpoint of that consistent state and returns the
  finished part (``interrupted=True``);
- checkpoints written atomically every ``checkpoint_every`` iterations and when interrupted,
  resumed only when asked (``ChainSettings.resume``) and only by the same run: a checkpoint
  carries a fingerprint (:func:`chain_fingerprint`: the settings that change the draws, the
  model, its step classes and constant prior parameters, the starting values, plus the
  caller's entries such as input-file digests), and every chain's checkpoint is checked
  before any chain runs. A resumed chain continues with exactly the draws of an
  uninterrupted one.

:func:`run_chains` runs several chains, serially or in forked processes, and combines them
into an :class:`~bayesmix.inference.results.ChainsResult` (chains of unequal length when
interrupted; see its docstring for what is pooled over what).

The model object passed in only needs ``initial_point()``, ``monitor(point, stats)``,
``monitor_names``, ``progress_columns``, ``n_snps``, ``n_components``, ``effects_name``,
``component_name``, ``method`` and a PyMC ``model``; the SBayes models provide the same.

Checkpoint files (``CHECKPOINT.chainC``) hold two pickles: a small header (format, chain,
iteration, chain length, fingerprint), read alone to check a run before it starts, then the
chain's state (point, step and residual states, traces, SNP sums, stored draws). They are
removed when the run completes: by :func:`run_chain` when its chain completes, by
:func:`run_chains` when all its chains have (a finished chain keeps its final checkpoint
until then, so a resumed run does not repeat it).
"""

from __future__ import annotations

import hashlib
import logging
import math
import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_for_connections
from pathlib import Path

import numpy as np

from bayesmix import interrupt
from bayesmix.checkpoint import fingerprint_differences
from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open
from bayesmix.kernels.blas import single_threaded_blas

log = logging.getLogger("bayesmix")

CHECKPOINT_FORMAT = "bayesmix-chain-checkpoint"
#: raised whenever a step's sampling state changes shape (3: the LD-sampling plug-in's
#: schedule; 4: sig2_beta's adapted prior scale, a new variable and step; 5: the
#: LD-sampling plug-in's burn-in sums), so that an older checkpoint is refused by name
#: instead of failing to load or resuming without them
CHECKPOINT_VERSION = 5


@dataclass
class ChainSettings:
    """MCMC settings (GCTB option names and defaults in brackets).

    chain_length : total iterations including burn-in (``--chain-length``, 3000).
    burn_in : iterations discarded (``--burn-in``, 1000).
    thin : keep every thin-th iteration in the traces (``--thin``, 10).
    out_freq : a progress line every this many iterations (``--out-freq``, 100); 0 = quiet.
    seed : base random seed (``--seed``); chains use independent streams spawned from it.
    store_snp_draws : keep the thinned non-zero effects (for ``.mcmcsamples.SnpEffects``).
    checkpoint : path prefix of the checkpoint files, one per chain (``PATH.chain0`` ...);
        None = no checkpoints (an interrupted run then cannot be resumed).
    checkpoint_every : iterations between checkpoints; 0 = only when interrupted.
    resume : continue from existing checkpoints (``--resume``). Without it an existing
        checkpoint is an error (a run never silently continues another one); with it, a
        checkpoint whose fingerprint differs is an error naming every difference, and a
        chain without a checkpoint starts from iteration 0.
    fingerprint : the caller's entries identifying the run's inputs and options, name ->
        text (e.g. ``{"--hsq": "0.5", "--pheno": "<sha256>"}``, see
        :func:`bayesmix.io.digest.input_digest`); the driver adds its own
        (:func:`chain_fingerprint`).
    """

    chain_length: int = 3000
    burn_in: int = 1000
    thin: int = 10
    out_freq: int = 100
    seed: int = 0
    store_snp_draws: bool = False
    checkpoint: str | None = None
    checkpoint_every: int = 500
    resume: bool = False
    fingerprint: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.chain_length < 1 or self.burn_in < 0 or self.thin < 1:
            raise InputError(f"need --chain-length >= 1, --burn-in >= 0 and --thin >= 1; got "
                             f"{self.chain_length}, {self.burn_in}, {self.thin}")
        if self.burn_in >= self.chain_length:
            raise InputError(f"--burn-in ({self.burn_in}) must be shorter than --chain-length "
                             f"({self.chain_length}): no draws would be kept")
        if self.n_kept_draws == 0:
            raise InputError(f"no draw would be kept: no multiple of --thin ({self.thin}) lies "
                             f"after --burn-in ({self.burn_in}) up to --chain-length "
                             f"({self.chain_length}); lengthen the chain or lower --thin")
        if self.checkpoint_every < 0:
            raise InputError(f"--checkpoint-every must be >= 0 (0 = only when interrupted), "
                             f"got {self.checkpoint_every}")
        if self.resume and self.checkpoint is None:
            raise InputError("resuming needs the checkpoint path of the run to continue")
        self.fingerprint = {str(k): str(v) for k, v in dict(self.fingerprint).items()}

    @property
    def n_kept_draws(self) -> int:
        """Number of kept (thinned, post burn-in) draws per chain."""
        return self.chain_length // self.thin - self.burn_in // self.thin


# ChainSettings fields that change the draws or what is kept of them, with their names in
# fingerprints (out_freq, checkpoint, checkpoint_every and resume change neither).
DRAW_SETTINGS = {"chain_length": "chain length", "burn_in": "burn-in", "thin": "thin",
                 "seed": "seed", "store_snp_draws": "stored SNP draws"}


@dataclass
class SnpAccumulator:
    """Online per-SNP sums over post-burn-in iterations (effects on the scale of X).

    Attributes
    ----------
    count : iterations accumulated.
    sum_beta, sum_beta2 : (M,) float64 sums of beta_j and beta_j^2.
    nonzero : (M,) int64 iterations with beta_j != 0.
    comp_counts : (M, K) int32 iterations in each component.
    """

    count: int
    sum_beta: np.ndarray
    sum_beta2: np.ndarray
    nonzero: np.ndarray
    comp_counts: np.ndarray

    @classmethod
    def empty(cls, n_snps: int, n_components: int) -> "SnpAccumulator":
        return cls(0, np.zeros(n_snps), np.zeros(n_snps), np.zeros(n_snps, np.int64),
                   np.zeros((n_snps, n_components), np.int32))

    def add(self, beta, comp) -> None:
        from bayesmix.kernels.gibbs import accumulate_snp_draw

        self.count += 1
        accumulate_snp_draw(np.asarray(beta, np.float64), np.asarray(comp), self.sum_beta,
                            self.sum_beta2, self.nonzero, self.comp_counts)

    def merged(self, other: "SnpAccumulator") -> "SnpAccumulator":
        return SnpAccumulator(self.count + other.count, self.sum_beta + other.sum_beta,
                              self.sum_beta2 + other.sum_beta2, self.nonzero + other.nonzero,
                              self.comp_counts + other.comp_counts)

    @property
    def mean(self) -> np.ndarray:
        return self.sum_beta / max(self.count, 1)

    @property
    def sd(self) -> np.ndarray:
        mean = self.mean
        return np.sqrt(np.maximum(self.sum_beta2 / max(self.count, 1) - mean * mean, 0.0))

    @property
    def pip(self) -> np.ndarray:
        """Posterior inclusion probability: share of iterations with beta_j != 0."""
        return self.nonzero / max(self.count, 1)

    @property
    def comp_prob(self) -> np.ndarray:
        """(M, K) posterior probability of each mixture component."""
        return self.comp_counts / max(self.count, 1)


@dataclass
class ChainResult:
    """One chain: thinned traces, online SNP summaries and bookkeeping.

    traces : dict name -> (draws,) float64 (the model's monitor quantities).
    alpha : (draws, q) thinned fixed effects (intercept, covariates).
    iterations : the 1-based iteration number of each kept draw.
    snp : SnpAccumulator over all post-burn-in iterations.
    snp_draws : list of (iteration, indices int32, values float32) of non-zero effects at
        kept draws, if asked.
    completed : iterations finished, counted from the start of the chain (a resumed chain
        includes those of the runs before); interrupted : the chain stopped before its end
        (a stop request, or never started because of one).
    resumed_from : the iteration this process started from (0 unless resumed).
    stopped_by : the signal number of the stop request that ended the chain (or kept it from
        starting), None when it completed.
    seconds : wall time of the sampling loop in this process (s).
    progress : the progress lines printed (kept for logs of chains run in other processes).
    """

    chain: int
    traces: dict
    alpha: np.ndarray
    iterations: np.ndarray
    snp: SnpAccumulator
    snp_draws: list = field(default_factory=list)
    completed: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    progress: list = field(default_factory=list)
    resumed_from: int = 0
    stopped_by: int | None = None

    @property
    def iterations_run(self) -> int:
        """Iterations run in this process (``completed - resumed_from``)."""
        return self.completed - self.resumed_from

    @property
    def seconds_per_iteration(self) -> float:
        """Seconds per iteration run in this process; NaN when it ran none."""
        return self.seconds / self.iterations_run if self.iterations_run > 0 else math.nan


def chain_seeds(seed: int, chain: int, n_steps: int) -> list[np.random.Generator]:
    """Independent generators for the steps of chain ``chain`` (same seed, same streams)."""
    root = np.random.SeedSequence([int(seed), int(chain)])
    return [np.random.default_rng(s) for s in root.spawn(n_steps)]


def format_time_left(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressPrinter:
    """GCTB-style progress lines: a header, then one line every ``out_freq`` iterations.

    TimeLeft is the time per iteration measured in this process since its first iteration
    (which may include compilation, so it is not timed) times the iterations left; after a
    resume only the iterations run since then count. ``clock`` returns seconds.
    """

    def __init__(self, columns, out_freq: int, total: int, chain_label: str = "", stream=None,
                 clock=time.perf_counter):
        self.columns = list(columns)
        self.out_freq = out_freq
        self.total = total
        self.label = chain_label
        self.stream = stream if stream is not None else sys.stdout
        self.clock = clock
        self.started = None
        self.first_iter = None
        self.lines = []

    def _emit(self, line: str) -> None:
        self.lines.append(line)
        print(line, file=self.stream, flush=True)

    def header(self) -> None:
        if self.out_freq:
            cells = [f"{'Iter':>7}"] + [f"{c:>12}" for c in self.columns] + [f"{'TimeLeft':>10}"]
            self._emit(self.label + " ".join(cells))

    def update(self, iteration: int, values: dict) -> None:
        """``iteration`` is 1-based; prints when it is a multiple of ``out_freq``."""
        if self.first_iter is None:  # the timer starts when this process's first iteration ends
            self.first_iter = iteration
            self.started = self.clock()
        if not self.out_freq or iteration % self.out_freq:
            return
        timed = iteration - self.first_iter  # iterations finished since the timer started
        cells = [f"{iteration:>7d}"]
        for c in self.columns:
            v = values[c]
            cells.append(f"{v:>12d}" if isinstance(v, (int, np.integer)) else f"{v:>12.6g}")
        if timed > 0:
            rate = (self.clock() - self.started) / timed
            cells.append(f"{format_time_left(rate * (self.total - iteration)):>10}")
        else:
            cells.append(f"{'-':>10}")
        self._emit(self.label + " ".join(cells))


# --------------------------------------------------------------------------- fingerprints
def _number_text(values) -> str:
    """Constants as text: up to 16 numbers at 10 significant digits, else a short digest of
    their float32 values (robust to last-bit differences between machines)."""
    a = np.asarray(values)
    if a.size <= 16:
        flat = [f"{float(v):.10g}" for v in a.ravel()]
        return flat[0] if a.ndim == 0 else "[" + ", ".join(flat) + "]"
    data = np.ascontiguousarray(a, dtype=np.float32)
    return f"{a.size} values, sha256 {hashlib.sha256(data.tobytes()).hexdigest()}"


def _prior_text(rv) -> str:
    """The distribution of a free variable and its constant parameters ('?' = not constant)."""
    from bayesmix.distributions.graph import constant_value

    op = rv.owner.op
    try:
        params = op.dist_params(rv.owner)
    except (AttributeError, TypeError, ValueError):
        params = []
    texts = []
    for p in params:
        value = constant_value(p)
        texts.append("?" if value is None else _number_text(value))
    return f"{type(op).__name__}({', '.join(texts)})"


def chain_fingerprint(model, steps, settings: ChainSettings) -> dict[str, str]:
    """What a checkpoint must match to be resumed: name -> text.

    The driver's entries: every :class:`ChainSettings` field that changes the draws
    (:data:`DRAW_SETTINGS`), the model method, numbers of SNPs and mixture components, the
    monitored names, the step classes, the mixture's component variances (gamma), each free
    variable's prior with its constant parameters, the LD ridge of summary-data models, and
    a digest of the starting values
    (float32-rounded; they depend on the phenotype, covariates, --hsq and --pi). Then the
    caller's ``settings.fingerprint`` entries (input digests, options the driver cannot see).
    """
    fp = {label: str(getattr(settings, name)) for name, label in DRAW_SETTINGS.items()}
    fp["method"] = str(model.method)
    fp["SNPs"] = str(model.n_snps)
    fp["mixture components"] = str(model.n_components)
    fp["monitored"] = ", ".join(model.monitor_names)
    fp["steps"] = ", ".join(type(s).__qualname__ for s in steps)
    if getattr(model, "gamma", None) is not None:
        fp["component variances (gamma)"] = _number_text(model.gamma)
    for rv in model.model.free_RVs:
        fp[f"prior of {rv.name}"] = _prior_text(rv)
    if getattr(model, "ridge", None) is not None:
        fp["LD ridge"] = f"{float(model.ridge):.10g}"
    point = model.initial_point()
    digest = hashlib.sha256()
    for name in sorted(point):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(point[name], dtype=np.float32).tobytes())
    fp["starting values"] = digest.hexdigest()
    fp.update(settings.fingerprint)
    return fp


# --------------------------------------------------------------------------- checkpoint files
def checkpoint_path(settings: ChainSettings, chain: int) -> Path | None:
    if settings.checkpoint is None:
        return None
    return Path(f"{settings.checkpoint}.chain{chain}")


def existing_checkpoints(prefix) -> list[str]:
    """The chain checkpoint files ``PREFIX.chainK`` (K digits) that exist, sorted (not other
    files whose names start so, e.g. a trait's outputs ``PREFIX.chain9.log``)."""
    import glob
    import re

    found = glob.glob(glob.escape(str(prefix)) + ".chain*")
    return sorted(path for path in found if re.search(r"\.chain\d+$", path))


def write_checkpoint(path, header: dict, state: dict) -> None:
    """Write a checkpoint atomically: the header pickle, then the state pickle."""
    header = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **header}
    with atomic_open(path, "wb") as fh:
        pickle.dump(header, fh, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)


def read_checkpoint(path, *, state: bool = True):
    """(header, state) of a checkpoint; ``state=False`` reads the header only (state None).

    Raises :class:`InputError` for a file that is not a checkpoint of this version.
    """
    with open(path, "rb") as fh:
        try:
            header = pickle.load(fh)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure: not our file
            raise InputError(f"unreadable checkpoint ({type(exc).__name__}); delete it to "
                             f"start over", path) from None
        if not (isinstance(header, dict) and header.get("format") == CHECKPOINT_FORMAT
                and header.get("version") == CHECKPOINT_VERSION):
            raise InputError("not a checkpoint of this bayesmix version; delete it to start "
                             "over", path)
        if not state:
            return header, None
        try:
            return header, pickle.load(fh)
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"unreadable checkpoint ({type(exc).__name__}); delete it to "
                             f"start over", path) from None


def refuse_other_run(path, saved: dict, fingerprint: dict) -> None:
    """InputError naming every entry in which the checkpoint at ``path`` (fingerprint
    ``saved``) differs from this run's ``fingerprint``."""
    differences = fingerprint_differences(saved, fingerprint)
    if differences:
        raise InputError(f"the checkpoint belongs to a run with other inputs or settings "
                         f"({'; '.join(differences)}); run with those to continue it, or "
                         f"delete it to start over", path)


def check_checkpoints(settings: ChainSettings, fingerprint: dict, chains) -> dict:
    """Check the checkpoints of ``chains`` before any chain runs; returns chain -> header of
    the checkpoints to resume.

    Raises :class:`InputError` when a checkpoint exists and ``settings.resume`` is False, or
    when a checkpoint to resume has another fingerprint (naming every difference). With
    ``resume`` a chain without a checkpoint starts from iteration 0 (logged).
    """
    if settings.checkpoint is None:
        return {}
    existing = {c: checkpoint_path(settings, c) for c in chains}
    existing = {c: p for c, p in existing.items() if p.exists()}
    if existing and not settings.resume:
        paths = ", ".join(str(p) for p in existing.values())
        raise InputError(f"a checkpoint of an unfinished run exists at {paths}: give --resume "
                         f"to continue it, or delete it to start over")
    headers = {}
    for c, path in existing.items():
        header, _ = read_checkpoint(path, state=False)
        refuse_other_run(path, header["fingerprint"], fingerprint)
        headers[c] = header
    for c in chains:
        if settings.resume and c not in existing:
            log.info("no checkpoint %s: chain %d starts from iteration 0",
                     checkpoint_path(settings, c), c)
    return headers


def remove_checkpoints(settings: ChainSettings, chains) -> None:
    """Delete the checkpoint files of ``chains`` (those that exist)."""
    for c in chains:
        path = checkpoint_path(settings, c)
        if path is not None and path.exists():
            path.unlink()


def _empty_result(model, chain: int) -> ChainResult:
    n_alpha = int(np.size(model.initial_point()["alpha"]))
    return ChainResult(chain, {name: np.zeros(0) for name in model.monitor_names},
                       np.zeros((0, n_alpha)), np.zeros(0, np.int64),
                       SnpAccumulator.empty(model.n_snps, model.n_components),
                       interrupted=True, stopped_by=interrupt.requested_signal())


def _chain_result(chain, traces, alphas, kept_iters, acc, snp_draws, n_alpha, completed,
                  interrupted, seconds=0.0, progress=(), resumed_from=0) -> ChainResult:
    return ChainResult(chain, {k: np.asarray(v, dtype=np.float64) for k, v in traces.items()},
                       np.asarray(alphas, dtype=np.float64).reshape(len(alphas), n_alpha),
                       np.asarray(kept_iters, dtype=np.int64), acc, list(snp_draws), completed,
                       interrupted, seconds, list(progress), resumed_from,
                       interrupt.requested_signal() if interrupted else None)


def _unstarted_result(model, settings: ChainSettings, chain: int) -> ChainResult:
    """A chain this process did not finish (stopped before it started, or stopped on Dask):
    the finished part in its checkpoint (of this run: :func:`check_checkpoints` refused any
    other), else an empty chain."""
    path = checkpoint_path(settings, chain)
    if path is None or not path.exists():
        return _empty_result(model, chain)
    header, state = read_checkpoint(path)
    n_alpha = int(np.size(state["point"]["alpha"]))
    completed = header["iteration"]
    return _chain_result(chain, state["traces"], state["alphas"], state["kept_iters"],
                         state["acc"], state["snp_draws"], n_alpha, completed,
                         completed < settings.chain_length, resumed_from=completed)


# --------------------------------------------------------------------------- one chain
def one_blas_thread():
    """Context manager: BLAS (numpy's, and numba's calls into it) on one thread.

    The order of a BLAS sum depends on its thread count, and so do the last bits of a dot
    product; chains run under it give the same draws in this process, in a forked one or on
    a Dask worker (which runs one BLAS thread), whatever the machine's core count."""
    return single_threaded_blas()


def run_chain(model, steps, settings: ChainSettings, *, chain: int = 0, progress_stream=None,
              chain_label: str = "") -> ChainResult:
    """Run one chain of ``steps`` (e.g. :func:`bayesmix.inference.gibbs.make_steps`).

    With ``settings.resume`` it continues from the chain's checkpoint (checked first, see
    :func:`check_checkpoints`). A stop request (SIGINT, SIGTERM, SIGHUP) ends the chain after
    the current iteration: a checkpoint of that state is written and the finished part is
    returned with ``interrupted=True``. The checkpoint is removed when the chain completes.
    """
    with interrupt.deferred():
        fingerprint = chain_fingerprint(model, steps, settings)
        check_checkpoints(settings, fingerprint, [chain])
        return _run_chain(model, steps, settings, chain=chain, fingerprint=fingerprint,
                          progress_stream=progress_stream, chain_label=chain_label,
                          keep_final=False)


def _monitored(iteration: int, settings: ChainSettings) -> bool:
    """Whether the monitor values of ``iteration`` (1-based) are computed: a kept draw (after
    burn-in, a multiple of ``thin``), a progress line (a multiple of ``out_freq``) or the
    last iteration. The monitor also checks for divergence (the SBayes models raise on
    blown-up effects or GenVar >= 1); the residual-variance steps check every iteration."""
    kept = iteration > settings.burn_in and iteration % settings.thin == 0
    printed = bool(settings.out_freq and iteration % settings.out_freq == 0)
    return kept or printed or iteration == settings.chain_length


def _run_chain(model, steps, settings: ChainSettings, *, chain: int, fingerprint: dict,
               progress_stream=None, chain_label: str = "", keep_final: bool = False
               ) -> ChainResult:
    """The chain loop, checkpoints already checked. ``keep_final`` writes a checkpoint of the
    completed chain instead of removing it (run_chains removes all when all are done)."""
    with interrupt.deferred(), one_blas_thread():
        eff, comp_name = model.effects_name, model.component_name

        def snp_state(point):
            """Effects and components as they enter the likelihood (nested models gate them)."""
            if hasattr(model, "snp_effects"):
                return model.snp_effects(point), model.snp_components(point)
            return np.asarray(point[eff]), np.asarray(point[comp_name])

        ckpt = checkpoint_path(settings, chain)
        names = list(model.monitor_names)
        traces = {name: [] for name in names}
        alphas, kept_iters, snp_draws = [], [], []
        acc = SnpAccumulator.empty(model.n_snps, model.n_components)
        for step, rng in zip(steps, chain_seeds(settings.seed, chain, len(steps))):
            step.setup_chain(rng, settings.burn_in, settings.chain_length - settings.burn_in)
        residuals = next((s.residuals for s in steps
                          if getattr(s, "residuals", None) is not None), None)
        point = model.initial_point()
        start = 0
        if settings.resume and ckpt is not None and ckpt.exists():
            header, saved = read_checkpoint(ckpt)
            if header["fingerprint"] != fingerprint or header["chain"] != chain:
                raise InputError("the checkpoint changed since it was checked", ckpt)
            start, point = header["iteration"], saved["point"]
            for step, state in zip(steps, saved["steps"]):
                step.sampling_state = state
            if saved["residuals"] is not None:
                residuals.set_state(saved["residuals"])
            traces, alphas, kept_iters = saved["traces"], saved["alphas"], saved["kept_iters"]
            acc, snp_draws = saved["acc"], saved["snp_draws"]
            log.info("resuming chain %d from iteration %d (%s)", chain, start, ckpt)
        if start >= settings.burn_in:
            for step in steps:
                step.stop_tuning()
        saved_at = start  # the iteration whose state the checkpoint file holds

        def save_checkpoint(iteration):
            nonlocal saved_at
            state = {"point": point, "steps": [s.sampling_state for s in steps],
                     "residuals": residuals.state() if residuals is not None else None,
                     "traces": traces, "alphas": alphas, "kept_iters": kept_iters, "acc": acc,
                     "snp_draws": snp_draws}
            write_checkpoint(ckpt, {"chain": chain, "iteration": iteration,
                                    "chain_length": settings.chain_length,
                                    "fingerprint": fingerprint}, state)
            saved_at = iteration

        printer = ProgressPrinter(model.progress_columns, settings.out_freq,
                                  settings.chain_length, chain_label, progress_stream)
        printer.header()
        every = settings.checkpoint_every
        completed = start
        started = time.perf_counter()
        try:
            for it in range(start, settings.chain_length):
                if interrupt.requested():
                    break
                iteration = it + 1
                monitored = _monitored(iteration, settings)
                stats = {}
                for step in steps:
                    step.monitoring = monitored
                    point, step_stats = step.step(point)
                    for s in step_stats:
                        stats.update(s)
                values = model.monitor(point, stats) if monitored else None
                if iteration == settings.burn_in:
                    for step in steps:
                        step.stop_tuning()
                if iteration > settings.burn_in:
                    beta, comp = snp_state(point)
                    acc.add(beta, comp)
                    if iteration % settings.thin == 0:
                        for name in names:
                            traces[name].append(values[name])
                        alphas.append(np.array(point["alpha"], dtype=np.float64))
                        kept_iters.append(iteration)
                        if settings.store_snp_draws:
                            idx = np.flatnonzero(beta).astype(np.int32)
                            snp_draws.append((iteration, idx, beta[idx].astype(np.float32)))
                printer.update(iteration, values)
                completed = iteration
                if (ckpt is not None and every and iteration % every == 0
                        and iteration < settings.chain_length):
                    save_checkpoint(iteration)
        finally:
            for step in steps:
                step.monitoring = True  # as pm.sample expects them, should the steps be reused
        seconds = time.perf_counter() - started
        interrupted = completed < settings.chain_length
        if ckpt is not None:
            if (interrupted or keep_final) and completed > saved_at:
                save_checkpoint(completed)
            elif not interrupted and not keep_final and ckpt.exists():
                ckpt.unlink()
        if interrupted:
            log.warning("chain %d stopped after %d of %d iterations (%s)%s", chain, completed,
                        settings.chain_length,
                        interrupt.signal_name(interrupt.requested_signal() or signal.SIGINT),
                        f"; checkpoint {ckpt}" if ckpt is not None and saved_at else "")
        return _chain_result(chain, traces, alphas, kept_iters, acc, snp_draws,
                             int(np.size(point["alpha"])), completed, interrupted, seconds,
                             printer.lines, start)


# --------------------------------------------------------------------------- several chains
_FORKED = {}


def _chain_worker(conn, chain: int, label: str) -> None:
    """Body of a forked worker: run one chain, send ("ok", result) or ("error", exc, text)."""
    model, make_steps, settings, fingerprint = _FORKED["job"]
    try:
        result = _run_chain(model, make_steps(model), settings, chain=chain,
                            fingerprint=fingerprint, chain_label=label, keep_final=True)
        message = ("ok", result)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        message = ("error", exc, traceback.format_exc())
    try:
        conn.send(message)
    except Exception:  # noqa: BLE001 - e.g. an exception that cannot be pickled
        conn.send(("error", RuntimeError(f"chain {chain} failed: {message[-1]}"), ""))
    conn.close()


def _run_forked(model, make_steps, settings, fingerprint, chains: int, cores: int) -> dict:
    """Chains in forked processes, at most ``cores`` at a time; returns chain -> result.

    Signals received by this process are passed on to the live workers, which stop at their
    own iteration boundaries; no new chain starts after a stop request. A failing chain
    (e.g. divergence) stops the others the same way and its exception is raised here.
    """
    ctx = multiprocessing.get_context("fork")
    live = set()  # pids of workers that have not reported yet

    def pass_on(signum):
        for pid in list(live):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    label = (lambda c: f"[chain {c}] ") if chains > 1 else (lambda c: "")
    results, failure = {}, None
    pending, running = list(range(chains)), {}
    _FORKED["job"] = (model, make_steps, settings, fingerprint)
    try:
        with interrupt.passed_on(pass_on):
            while pending or running:
                while (pending and len(running) < cores and failure is None
                       and not interrupt.requested()):
                    c = pending.pop(0)
                    reader, writer = ctx.Pipe(duplex=False)
                    process = ctx.Process(target=_chain_worker, args=(writer, c, label(c)),
                                          name=f"bayesmix-chain-{c}")
                    process.start()
                    writer.close()
                    running[reader] = (c, process)
                    live.add(process.pid)
                    if interrupt.requested():  # a signal between the fork and live.add
                        pass_on(interrupt.requested_signal())
                if not running:
                    break
                for reader in wait_for_connections(list(running)):
                    c, process = running.pop(reader)
                    try:
                        message = reader.recv()
                    except EOFError:
                        process.join()
                        message = ("error", RuntimeError(
                            f"the worker process of chain {c} ended without a result (exit "
                            f"code {process.exitcode})"), "")
                    live.discard(process.pid)
                    reader.close()
                    process.join()
                    if message[0] == "ok":
                        results[c] = message[1]
                    elif failure is None:
                        failure = (c, *message[1:])
                        pass_on(signal.SIGTERM)  # the others stop at their next boundary
    finally:
        _FORKED.clear()
        for c, process in running.values():  # only after an exception in this loop
            process.kill()
            process.join()
    if failure is not None:
        c, exc, text = failure
        if text and not isinstance(exc, (InputError, interrupt.Interrupted)):
            exc.add_note(f"in the worker process of chain {c}:\n{text}")
        raise exc
    return results


def _chain_task(job) -> tuple:
    """One Dask task of :func:`run_chains` (``client``): run chain ``chain``; returns
    (ChainResult, the worker's address). Its checkpoint file, if there is one, is of this run
    (a rerun after its worker died, or the run ``--resume`` continues; the caller refused any
    other), so the chain continues from it."""
    import dataclasses
    import io

    shipped, make_steps, settings, fingerprint, chain, label = job
    model = shipped.model
    path = checkpoint_path(settings, chain)
    if path is not None and path.exists() and not settings.resume:
        settings = dataclasses.replace(settings, resume=True)
    result = _run_chain(model, make_steps(model), settings, chain=chain,
                        fingerprint=fingerprint, chain_label=label,
                        progress_stream=io.StringIO(), keep_final=True)
    try:
        from distributed import get_worker

        where = get_worker().address
    except (ImportError, ValueError):  # run outside a worker (tests call it directly)
        where = f"process {os.getpid()}"
    return result, where


def _identity(value):
    return value


def _dispatchers() -> dict:
    """PyMC's dispatch tables that ``pm.CustomDist`` registers its RV classes in."""
    from pymc.distributions.distribution import _support_point
    from pymc.distributions.shape_utils import _change_dist_size
    from pymc.logprob.abstract import _logcdf, _logprob

    return {"logprob": _logprob, "logcdf": _logcdf, "support_point": _support_point,
            "change_dist_size": _change_dist_size}


class _ShippedModel:
    """A model pickled for another process, with the dispatch entries of its RV classes.

    ``pm.CustomDist`` creates its RV class at run time and registers its log density in
    PyMC's dispatch tables; pickling recreates the class in the worker but not those entries
    (a fork inherits them). They travel with the model and are registered again when it is
    unpickled."""

    def __init__(self, model):
        self.model = model
        self.entries = []
        tables = _dispatchers()
        for rv in model.model.basic_RVs:
            cls = type(rv.owner.op)
            for name, table in tables.items():
                if cls in table.registry:
                    self.entries.append((name, cls, table.registry[cls]))

    def __setstate__(self, state):
        self.__dict__.update(state)
        tables = _dispatchers()
        for name, cls, function in self.entries:
            if cls not in tables[name].registry:
                tables[name].register(cls)(function)


def _run_on_dask(client, model, make_steps, settings, fingerprint, chains: int,
                 progress_stream) -> dict:
    """Chains as Dask tasks, one task per chain; returns chain -> result of the chains that
    finished (all unless a stop request cancelled the others).

    The model travels to the workers as the result of one task, copied to as many workers
    as there are chains (recomputed from the scheduler's copy if every worker holding it
    dies), not once per chain. Each chain's
    progress lines are written to ``progress_stream`` when it finishes, and a log line
    says which worker ran it.
    """
    from bayesmix.distributed import run_tasks, worker_count

    stream = progress_stream if progress_stream is not None else sys.stdout
    shared = client.submit(_identity, _ShippedModel(model), pure=False)
    client.replicate([shared], n=min(chains, worker_count(client)))  # chains spread out
    label = (lambda c: f"[chain {c}] ") if chains > 1 else (lambda c: "")
    jobs = [(shared, make_steps, settings, fingerprint, c, label(c)) for c in range(chains)]
    log.info("running %d chain(s) as Dask tasks on %d worker thread(s) of the scheduler at %s",
             chains, worker_count(client), client.scheduler.address)

    def finished(c, outcome):
        result, where = outcome
        for line in result.progress:
            print(line, file=stream, flush=True)
        log.info("chain %d: %d iterations on the Dask worker %s", c, result.completed, where)

    outcomes = run_tasks(client, _chain_task, jobs, desc="MCMC chains", unit="chains",
                         on_result=finished, stop=interrupt.requested, retries=0)
    return {c: outcome[0] for c, outcome in enumerate(outcomes) if outcome is not None}


def run_chains(model, make_steps, settings: ChainSettings, *, chains: int = 1, cores: int = 1,
               progress_stream=None, client=None, keep_checkpoints: bool = False):
    """Run ``chains`` chains (in ``cores`` forked processes, or as Dask tasks) and combine
    them.

    ``make_steps(model)`` builds a fresh step list per chain. Every chain's checkpoint is
    checked before any chain runs (:func:`check_checkpoints`). A stop request (SIGINT,
    SIGTERM, SIGHUP) stops the running chains at their iteration boundaries (forked workers
    get the signal passed on) and starts no further chain; chains not started are returned
    as their checkpointed part (resume) or empty. Checkpoints are removed once every chain
    has completed, unless ``keep_checkpoints``: every chain then keeps its final checkpoint
    and the caller removes them (:func:`remove_checkpoints`) once the results are saved, so
    a run stopped while writing them loses nothing (``resume`` finds the chains complete). Returns a :class:`~bayesmix.inference.results.ChainsResult`; progress
    lines go to ``progress_stream`` (stdout by default; forked workers print to their
    stdout).

    ``client``: a ``dask.distributed`` client (:func:`bayesmix.distributed.connect`); each
    chain is then one task on its workers (``cores`` is not used) and the result is the
    serial run's, bit for bit. With ``settings.checkpoint`` on a file system the workers
    share, a chain whose worker dies is rerun from its last checkpoint (else from the
    start), and each finished chain keeps its final checkpoint until all have finished, so
    ``resume`` after a stopped run reuses it. The model (data and LD included) is pickled
    and sent to the workers; a chain's progress lines are written when it finishes.
    """
    from bayesmix.inference.results import ChainsResult

    if chains < 1:
        raise ValueError("need at least one chain")
    with interrupt.deferred():
        first_steps = make_steps(model)
        fingerprint = chain_fingerprint(model, first_steps, settings)
        check_checkpoints(settings, fingerprint, range(chains))
        if client is not None:
            results = _run_on_dask(client, model, make_steps, settings, fingerprint, chains,
                                   progress_stream)
        elif chains == 1 or cores <= 1:
            label = (lambda c: f"[chain {c}] ") if chains > 1 else (lambda c: "")
            results = {}
            for c in range(chains):
                if interrupt.requested():
                    break
                steps = first_steps if c == 0 else make_steps(model)
                results[c] = _run_chain(model, steps, settings, chain=c,
                                        fingerprint=fingerprint, chain_label=label(c),
                                        progress_stream=progress_stream,
                                        keep_final=chains > 1 or keep_checkpoints)
        else:
            results = _run_forked(model, make_steps, settings, fingerprint, chains, cores)
        combined = [results[c] if c in results else _unstarted_result(model, settings, c)
                    for c in range(chains)]
        if not keep_checkpoints and not any(r.interrupted for r in combined):
            remove_checkpoints(settings, range(chains))
    return ChainsResult.from_chains(model, settings, combined)
