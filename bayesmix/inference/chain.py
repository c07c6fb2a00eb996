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
- checkpoints written atomically every ``checkpoint_every`` iterations and on Ctrl-C;
  :func:`run_chain` resumes from one and continues with identical draws;
- Ctrl-C stops the chain and returns what is finished (``interrupted=True``).

:func:`run_chains` runs several chains in parallel processes (fork) and combines them into an
:class:`~bayesmix.inference.results.ChainsResult` with R-hat / ESS from ArviZ.

The model object passed in only needs ``initial_point()``, ``monitor(point, stats)``,
``monitor_names``, ``progress_columns``, ``n_snps``, ``n_components``, ``effects_name`` and
``component_name``; the SBayes models provide the same.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open

log = logging.getLogger("bayesmix")


@dataclass
class ChainSettings:
    """MCMC settings (GCTB option names and defaults in brackets).

    chain_length : total iterations including burn-in (``--chain-length``, 3000).
    burn_in : iterations discarded (``--burn-in``, 1000).
    thin : keep every thin-th iteration in the traces (``--thin``, 10).
    out_freq : a progress line every this many iterations (``--out-freq``, 100); 0 = quiet.
    seed : base random seed (``--seed``); chains use independent streams spawned from it.
    store_snp_draws : keep the thinned non-zero effects (for ``.mcmcsamples.SnpEffects``).
    checkpoint : path of the checkpoint file (None = no checkpoints).
    checkpoint_every : iterations between checkpoints.
    """

    chain_length: int = 3000
    burn_in: int = 1000
    thin: int = 10
    out_freq: int = 100
    seed: int = 0
    store_snp_draws: bool = False
    checkpoint: str | None = None
    checkpoint_every: int = 500

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

    @property
    def n_kept_draws(self) -> int:
        """Number of kept (thinned, post burn-in) draws per chain."""
        return self.chain_length // self.thin - self.burn_in // self.thin


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
    completed : iterations run; interrupted : stopped by Ctrl-C before the end.
    seconds : wall time of the sampling loop; seconds_per_iteration.
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

    @property
    def seconds_per_iteration(self) -> float:
        return self.seconds / max(self.completed, 1)


def chain_seeds(seed: int, chain: int, n_steps: int) -> list[np.random.Generator]:
    """Independent generators for the steps of chain ``chain`` (same seed, same streams)."""
    root = np.random.SeedSequence([int(seed), int(chain)])
    return [np.random.default_rng(s) for s in root.spawn(n_steps)]


def format_time_left(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressPrinter:
    """GCTB-style progress lines: a header, then one line every ``out_freq`` iterations."""

    def __init__(self, columns, out_freq: int, total: int, chain_label: str = "", stream=None):
        self.columns = list(columns)
        self.out_freq = out_freq
        self.total = total
        self.label = chain_label
        self.stream = stream if stream is not None else sys.stdout
        self.started = time.perf_counter()
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
        if self.first_iter is None:
            self.first_iter = iteration
            self.started = time.perf_counter()
        if not self.out_freq or iteration % self.out_freq:
            return
        done = iteration - self.first_iter + 1
        rate = (time.perf_counter() - self.started) / max(done, 1)
        cells = [f"{iteration:>7d}"]
        for c in self.columns:
            v = values[c]
            cells.append(f"{v:>12d}" if isinstance(v, (int, np.integer)) else f"{v:>12.6g}")
        cells.append(f"{format_time_left(rate * (self.total - iteration)):>10}")
        self._emit(self.label + " ".join(cells))


def _settings_key(settings: ChainSettings, model) -> str:
    """Fingerprint that a checkpoint must match to be resumed."""
    fields = {k: v for k, v in asdict(settings).items() if k not in ("checkpoint", "out_freq",
                                                                      "checkpoint_every")}
    text = repr((fields, model.n_snps, model.n_components, list(model.monitor_names)))
    return hashlib.sha256(text.encode()).hexdigest()


def checkpoint_path(settings: ChainSettings, chain: int) -> Path | None:
    if settings.checkpoint is None:
        return None
    return Path(f"{settings.checkpoint}.chain{chain}")


def run_chain(model, steps, settings: ChainSettings, *, chain: int = 0, progress_stream=None,
              chain_label: str = "") -> ChainResult:
    """Run one chain of ``steps`` (e.g. :func:`bayesmix.inference.gibbs.make_steps`).

    Resumes from ``settings.checkpoint`` (per chain) when a matching checkpoint exists. On
    Ctrl-C the chain stops after the current iteration, a checkpoint is written, and the
    finished part is returned with ``interrupted=True``.
    """
    eff, comp_name = model.effects_name, model.component_name

    def snp_state(point):
        """Effects and components as they enter the likelihood (nested models gate them)."""
        if hasattr(model, "snp_effects"):
            return model.snp_effects(point), model.snp_components(point)
        return np.asarray(point[eff]), np.asarray(point[comp_name])
    key = _settings_key(settings, model)
    ckpt = checkpoint_path(settings, chain)
    names = list(model.monitor_names)
    traces = {name: [] for name in names}
    alphas, kept_iters, snp_draws = [], [], []
    acc = SnpAccumulator.empty(model.n_snps, model.n_components)
    for step, rng in zip(steps, chain_seeds(settings.seed, chain, len(steps))):
        step.setup_chain(rng, settings.burn_in, settings.chain_length - settings.burn_in)
    point = model.initial_point()
    start = 0
    if ckpt is not None and ckpt.exists():
        with open(ckpt, "rb") as fh:
            saved = pickle.load(fh)
        if saved["key"] == key:
            start, point = saved["iteration"], saved["point"]
            for step, state in zip(steps, saved["steps"]):
                step.set_state(state)
            if saved["residuals"] is not None:
                steps[0].residuals.set_state(saved["residuals"])
            traces, alphas, kept_iters = saved["traces"], saved["alphas"], saved["kept_iters"]
            acc, snp_draws = saved["acc"], saved["snp_draws"]
            log.info("resuming chain %d from iteration %d (%s)", chain, start, ckpt)
        else:
            log.warning("ignoring checkpoint %s: it belongs to other settings or data", ckpt)
    for step in steps:
        if start >= settings.burn_in and hasattr(step, "tune"):
            step.tune = False

    def save_checkpoint(iteration):
        if ckpt is None:
            return
        residuals = getattr(steps[0], "residuals", None)
        state = {"key": key, "iteration": iteration, "point": point,
                 "steps": [s.state() for s in steps],
                 "residuals": residuals.state() if residuals is not None else None,
                 "traces": traces, "alphas": alphas, "kept_iters": kept_iters, "acc": acc,
                 "snp_draws": snp_draws}
        with atomic_open(ckpt, "wb") as fh:
            pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)

    printer = ProgressPrinter(model.progress_columns, settings.out_freq, settings.chain_length,
                              chain_label, progress_stream)
    if start == 0:
        printer.header()
    interrupted = False
    completed = start
    started = time.perf_counter()
    try:
        for it in range(start, settings.chain_length):
            stats = {}
            for step in steps:
                point, step_stats = step.step(point)
                for s in step_stats:
                    stats.update(s)
            values = model.monitor(point, stats)
            iteration = it + 1
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
            if ckpt is not None and iteration % settings.checkpoint_every == 0:
                save_checkpoint(iteration)
    except KeyboardInterrupt:
        interrupted = True
        save_checkpoint(completed)
        log.warning("chain %d interrupted after %d iterations; keeping what is finished",
                    chain, completed)
    seconds = time.perf_counter() - started
    if not interrupted and ckpt is not None and ckpt.exists():
        ckpt.unlink()
    return ChainResult(chain, {k: np.asarray(v, dtype=np.float64) for k, v in traces.items()},
                       np.asarray(alphas, dtype=np.float64).reshape(len(alphas),
                                                                    np.size(point["alpha"])),
                       np.asarray(kept_iters, dtype=np.int64), acc, snp_draws, completed,
                       interrupted, seconds, printer.lines)


_FORKED = {}


def _run_forked_chain(chain: int) -> ChainResult:
    model, make_steps, settings = _FORKED["job"]
    label = f"[chain {chain}] " if _FORKED["n_chains"] > 1 else ""
    return run_chain(model, make_steps(model), settings, chain=chain, chain_label=label)


def _forward_interrupts(pool):
    """While chains run in workers, Ctrl-C in the parent is passed on to them: each worker
    stops after its current iteration and returns its finished part."""
    def handler(signum, frame):
        for process in list(getattr(pool, "_processes", {}).values()):
            if process.is_alive():
                os.kill(process.pid, signal.SIGINT)
    return signal.signal(signal.SIGINT, handler)


def run_chains(model, make_steps, settings: ChainSettings, *, chains: int = 1, cores: int = 1,
               progress_stream=None):
    """Run ``chains`` chains (in ``cores`` forked processes) and combine them.

    ``make_steps(model)`` builds a fresh step list per chain. Returns a
    :class:`~bayesmix.inference.results.ChainsResult`. Progress lines go to
    ``progress_stream`` (stdout by default; workers always print to their stdout).
    """
    from bayesmix.inference.results import ChainsResult

    if chains < 1:
        raise ValueError("need at least one chain")
    if chains == 1 or cores <= 1:
        label = (lambda c: f"[chain {c}] ") if chains > 1 else (lambda c: "")
        results = []
        for c in range(chains):
            results.append(run_chain(model, make_steps(model), settings, chain=c,
                                     chain_label=label(c), progress_stream=progress_stream))
            if results[-1].interrupted:
                break
    else:
        _FORKED["job"] = (model, make_steps, settings)
        _FORKED["n_chains"] = chains
        ctx = multiprocessing.get_context("fork")
        try:
            with ProcessPoolExecutor(max_workers=min(cores, chains), mp_context=ctx) as pool:
                futures = [pool.submit(_run_forked_chain, c) for c in range(chains)]
                previous = _forward_interrupts(pool)
                try:
                    results = [f.result() for f in futures]
                finally:
                    signal.signal(signal.SIGINT, previous)
        finally:
            _FORKED.clear()
    return ChainsResult.from_chains(model, settings, results)
