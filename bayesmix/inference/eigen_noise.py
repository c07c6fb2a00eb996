"""The noise slope c of SBayes on eigen LD (:mod:`bayesmix.prepare.eigen_noise`) from the
residuals of short pilot chains.

Each pilot is ``PILOT_LENGTH`` iterations of the analysis' own model (its Gibbs steps, run
here without the chain driver's outputs); over its last ``PILOT_KEPT`` iterations it averages,
per kept direction t of block b, the standardised squared residual on the unweighted scale,
v_t = n_b e_t^2 d_t / sig2_b (e = w~ - Q~ beta of that draw, d_t the pilot's weights). The
first pilot runs with flat noise (d = 1); its fit v_t ~ a + b / lambda_t gives c_1 = b / a,
with which the next pilot runs, and so on until c moves by less than ``PILOT_TOLERANCE`` of
itself (at most ``PILOT_MAX_ROUNDS`` pilots; the last fit is used). A pilot overstates the
noise along the large eigenvalues when its c is too low, and so finds c low again: the
rounds climb to the fixed point. On the 1.1M-SNP genome of docs/scale.md (all SNPs kept) c
went 0.070, 0.077, 0.078, where the true effects' residuals give 0.080; on statistics drawn
with c = 0.6 (tests/test_eigen_noise.py) 0.25, 0.47, 0.57, 0.61.
"""

from __future__ import annotations

import time

import numpy as np

from bayesmix import interrupt
from bayesmix.errors import ConvergenceError
from bayesmix.prepare.eigen_noise import (EIGEN_NOISE_MODELS, EigenNoiseFit, fit_noise_slope,
                                          with_eigen_noise)

#: iterations of each pilot chain, of which the last PILOT_KEPT are averaged
PILOT_LENGTH, PILOT_KEPT = 200, 100
#: pilot chains: the first with flat noise, each next one with the previous fit's c, until c
#: moves by less than PILOT_TOLERANCE of itself
PILOT_MAX_ROUNDS, PILOT_TOLERANCE = 6, 0.05


def pilot_mean_squares(model, make_steps, *, seed: int, length: int = PILOT_LENGTH,
                       kept: int = PILOT_KEPT) -> np.ndarray | None:
    """v_t of the module docstring from one pilot chain of ``model`` (an SBayesEigenModel,
    its data noise-weighted or not) with the steps ``make_steps(model, rng=seed)``; None when
    a stop was requested meanwhile."""
    data = model.data
    steps = make_steps(model, rng=seed)
    residuals = steps[0].residuals
    d = np.ones(len(data.w)) if data.noise_weights is None else data.noise_weights
    point = model.initial_point()
    total = np.zeros(len(data.w))
    for iteration in range(length):
        if interrupt.requested():
            return None
        for step in steps:
            point, _ = step.step(point)
        if iteration >= length - kept:
            e = residuals.sync(point)
            scale = data.n_block / np.asarray(model.derived(point)["sig2_e"], np.float64)
            total += np.repeat(scale, data.ranks) * e * e * d
    if not np.isfinite(total).all():
        raise ConvergenceError("the pilot chain's residuals are not finite")
    return total / kept


def noise_slope(data, make_model, make_steps, *, seed: int = 0,
                max_rounds: int = PILOT_MAX_ROUNDS, say=None) -> EigenNoiseFit | None:
    """The fit of the last pilot chain (module docstring) on ``data`` (EigenSummaryData, not
    noise-weighted); ``make_model(data)`` builds the analysis' model. A pilot that diverges
    ends the pilots with the fit before it (no slope, c = 0, when it was the first): its
    statistics may still suit the main chain's seed, which reports its own divergence. None
    when a stop was requested meanwhile."""
    fit, c = EigenNoiseFit(1.0, 0.0, len(data.w)), 0.0
    for round_ in range(max_rounds):
        started = time.time()
        held = data if c == 0.0 else with_eigen_noise(data, c)
        label = f"  noise pilot {round_ + 1} ({'flat' if held is data else f'c = {c:.4g}'}"
        try:
            squares = pilot_mean_squares(make_model(held), make_steps, seed=seed + round_)
        except ConvergenceError as err:
            if say:
                say(f"{label}): diverged ({str(err).splitlines()[0][:120]}); c = {c:.4g} kept")
            break
        if squares is None:
            return None
        fit = fit_noise_slope(data.eigenvalues, squares)
        previous, c = c, fit.c
        if say:
            say(f"{label}, {PILOT_LENGTH} iterations): c = {c:.4g} "
                f"({time.time() - started:.1f} s)")
        if c == 0.0 or abs(c - previous) <= PILOT_TOLERANCE * c:
            break
    return fit


def eigen_noise_data(data, model: str, make_model, make_steps, *, seed: int = 0, say=None):
    """``data`` under the noise model ``model`` of
    :data:`~bayesmix.prepare.eigen_noise.EIGEN_NOISE_MODELS` (``lambda``: weighted with the
    c of :func:`noise_slope`, said through ``say``); None when a stop was requested."""
    if model not in EIGEN_NOISE_MODELS:
        raise ValueError(f"eigen noise model must be one of {EIGEN_NOISE_MODELS}, not {model!r}")
    if model == "flat":
        if say:
            say("Noise: one residual variance per LD block (--eigen-noise flat).")
        return data
    if say:
        say("Fitting the residual variance per eigen direction by pilot chains:")
    fit = noise_slope(data, make_model, make_steps, seed=seed, say=say)
    if fit is None:
        return None
    if fit.c == 0.0:
        if say:
            say("Noise: no growth towards the small eigenvalues found; one residual variance "
                "per LD block.")
        return data
    if say:
        say(f"Noise: {fit.describe()}.")
    return with_eigen_noise(data, fit.c)
