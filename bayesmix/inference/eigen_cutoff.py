"""Choosing the eigen cut-off of SBayes on eigen LD by pseudo-validation (GCTB's
``--ldm-eigen-cutoff 0.995,0.99,0.95,0.9``, its default).

The statistics are split into pseudo training and validation statistics as GCTB 2.x does it
(the PUMAS construction): with n_b the block's GWAS sample size, n_t = 0.9 n_b and
n_v = n_b - n_t, per block with kept eigenpairs U diag(lambda) U' of the largest cut-off and
g ~ N(0, I_k),

    b_train = b* + s_b U diag(lambda)^1/2 g,   s_b = sqrt(1/n_t - 1/n_b),
    b_val   = (n_b b* - n_t b_train) / n_v   = b* - (n_t / n_v) s_b Q_b' g,

which, when the LD matches, are the marginal effects of two independent samples of n_t and
n_v people. In the rotated space b_train is w + s_b g (w_t = lambda_t^-1/2 u_t' b depends on
eigenvector t alone), so every cut-off's training data is the same draw truncated.

For each cut-off a short chain (150 iterations, 100 burn-in: GCTB's) is fitted to the
training statistics, and its posterior mean effects beta (standardised scale) are scored by
their prediction accuracy in the validation sample,

    r = beta'b_val / sqrt(beta'R beta),

the correlation of the predictor X beta with the phenotype (phenotypic variance 1), with
beta'R beta = |Q beta|^2 under the largest cut-off's LD. The calibration slope
beta'b_val / beta'R beta is reported next to it: above 1, the effects are shrunk too much
(hsq is then underestimated). (GCTB divides by
sqrt(beta'beta var(y)) instead, which is not a correlation: it favours cut-offs whose
effects are spread over SNPs in LD.) The cut-off with the highest r is chosen; a cut-off
whose short chain diverges scores nothing (and when all do, the largest is kept, whose own
chain then reports the problem).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from bayesmix.errors import ConvergenceError, InputError
from bayesmix.kernels.sbayes_eigen import eigen_fitted, eigen_transposed

#: share of each block's sample in the pseudo training statistics (GCTB's)
TRAINING_SHARE = 0.9
#: the chain fitted per cut-off (GCTB's): iterations, of which burn-in
TUNING_LENGTH, TUNING_BURN_IN = 150, 100


@dataclass
class PseudoSummary:
    """Pseudo training and validation statistics of one draw (module docstring).

    w_train : float64[sum_b k_b], the training statistics rotated at the largest cut-off.
    n_train_block, n_train : the training sample sizes per block and per SNP.
    b_validation : float64[M], the validation marginal effects (standardised scale).
    """

    w_train: np.ndarray
    n_train_block: np.ndarray
    n_train: np.ndarray
    b_validation: np.ndarray


def pseudo_summary(data, rng: np.random.Generator,
                   training_share: float = TRAINING_SHARE) -> PseudoSummary:
    """Split ``data`` (EigenSummaryData) into pseudo training and validation statistics."""
    n_block = np.asarray(data.n_block, np.float64)
    n_train_block = training_share * n_block
    n_validation_block = n_block - n_train_block
    if np.any(n_validation_block < 1):
        raise InputError("the GWAS sample is too small to be split for pseudo-validation of "
                         "the eigen cut-off: give one --ldm-eigen-cutoff")
    noise_sd = np.sqrt(1.0 / n_train_block - 1.0 / n_block)
    ranks = data.ranks
    g = rng.standard_normal(int(data.rank_ptr[-1]))
    scaled_g = g * np.repeat(noise_sd * n_train_block / n_validation_block, ranks)
    b_std = data.stats["B_STD"].to_numpy(np.float64)
    b_validation = b_std - eigen_transposed(data.block_ptr, data.rank_ptr, data.q_ptr,
                                            data.q_values, scaled_g)
    return PseudoSummary(w_train=data.w + g * np.repeat(noise_sd, ranks),
                         n_train_block=n_train_block, n_train=training_share * data.n,
                         b_validation=b_validation)


def training_data(data, pseudo: PseudoSummary, cutoff: float):
    """The pseudo training statistics at ``cutoff`` (at most ``data.cutoff``)."""
    train = replace(data, w=pseudo.w_train, n_block=pseudo.n_train_block, n=pseudo.n_train,
                    nobs=float(np.median(pseudo.n_train)))
    return train.at_cutoff(cutoff)


def validation_scores(data, pseudo: PseudoSummary, beta: np.ndarray) -> tuple[float, float]:
    """(r, slope) of effects ``beta`` in the validation statistics: the prediction accuracy
    r = beta'b_val / sqrt(beta'R beta) and the calibration slope beta'b_val / beta'R beta
    (the regression of the phenotype on the predictor: 1 for well-calibrated effects, above 1
    for effects shrunk too much), R the LD ``data`` keeps; NaN when beta is 0."""
    beta = np.asarray(beta, np.float64)
    fitted = eigen_fitted(data.block_ptr, data.rank_ptr, data.q_ptr, data.q_values, beta)
    variance = float(fitted @ fitted)
    if not variance > 0:
        return float("nan"), float("nan")
    covariance = float(beta @ pseudo.b_validation)
    return covariance / np.sqrt(variance), covariance / variance


@dataclass
class CutoffTuning:
    """The outcome: ``best`` cut-off, and per cut-off (largest first) the eigenvectors it
    keeps, and its prediction accuracy and calibration slope (:func:`validation_scores`;
    NaN where its chain diverged)."""

    cutoffs: list
    eigenvectors: list
    accuracy: list
    slope: list
    best: float


#: the tuning table's columns: cut-off, eigenvectors, r, r relative to the first (GCTB's
#: columns), calibration slope, time taken
TABLE_HEADER = (f"{'Cutoff':>8} {'Eigenvectors':>13} {'Prediction accuracy (r)':>24} "
                f"{'Relative accuracy':>18} {'Calibration slope':>18}   Time")


def tune_eigen_cutoff(data, cutoffs, fit_effects, *, seed: int = 0, say=print) -> CutoffTuning:
    """Pseudo-validation of ``cutoffs`` (module docstring), largest first; a table row is
    said per cut-off as it is done.

    data : EigenSummaryData at the largest cut-off of ``cutoffs`` (or above).
    fit_effects : callable(training EigenSummaryData, seed) -> posterior mean effects
        (standardised scale, M), e.g. a short chain of the analysis' own model.
    seed : seeds the pseudo split (and is passed on to ``fit_effects``).
    """
    cutoffs = sorted((float(c) for c in cutoffs), reverse=True)
    if max(cutoffs) > data.cutoff * (1 + 1e-9):
        raise InputError(f"the eigen cut-off {max(cutoffs):g} is above the {data.cutoff:g} of "
                         "the statistics' LD")
    pseudo = pseudo_summary(data, np.random.default_rng([seed, 0x5eed]))
    say(f"Choosing the eigen cut-off from {', '.join(f'{c:g}' for c in cutoffs)} by pseudo "
        f"summary-data validation ({TRAINING_SHARE:.0%} of each block's sample for training; "
        f"{TUNING_LENGTH} iterations per cut-off):")
    say(TABLE_HEADER)
    accuracy, slope, eigenvectors = [], [], []
    for c in cutoffs:
        started = time.perf_counter()
        train = training_data(data, pseudo, c)
        eigenvectors.append(int(train.rank_ptr[-1]))
        try:
            r, b = validation_scores(data, pseudo, fit_effects(train, seed))
            note = ""
        except ConvergenceError as error:
            r = b = float("nan")
            note = f"  the chain diverged ({str(error).split('. ')[0]})"
        del train  # freed before the next cut-off's eigenvectors are copied
        accuracy.append(r)
        slope.append(b)
        say(f"{c:>8g} {eigenvectors[-1]:>13d} {r:>24.4f} {r / accuracy[0]:>18.3f} "
            f"{b:>18.3f}   {time.perf_counter() - started:.1f} s{note}")
    scores = np.nan_to_num(np.asarray(accuracy), nan=-np.inf)
    return CutoffTuning(cutoffs=cutoffs, eigenvectors=eigenvectors, accuracy=accuracy,
                        slope=slope, best=cutoffs[int(np.argmax(scores))])
