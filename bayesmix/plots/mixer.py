"""MiXeR univariate plots: Q-Q of data vs model (with 95% binomial band), 3x3 stratified Q-Q
(MAF x LD-score tertiles), power curve. Each plot has a data function (plain dicts of arrays,
also written to the test JSON) and a drawing function (PNG/PDF via matplotlib).

Q-Q convention (MiXeR's): for a grid of observed -log10 p values ``hv_logp`` (y axis, up to
:data:`MAX_QQ_LOGP`), x is -log10 of the weighted share of tags at least that significant,
for the data (``data_logpvec``) and under the fitted model (``model_logpvec``: exact tail
probabilities of the convolve likelihood by default, or the fast moments approximation;
NaN, not drawn, where the convolve share is below
:data:`~bayesmix.models.mixer.CONVOLVE_SHARE_FLOOR`, beyond its resolution); the band is the
95% binomial interval of the observed share around the model with the effective number of
tags sum(w).
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaincinv, log_ndtr, ndtri  # what scipy.stats.norm / beta call

from bayesmix.models.mixer import model_tail_probability, power_curve
from bayesmix.prepare.mixer_data import MixerData


#: Q-Q grids stop at this -log10 p (the model tail needs finer quadrature further out)
MAX_QQ_LOGP = 50.0


def _logp(z) -> np.ndarray:
    """Two-sided -log10 p of z-scores (stable in the far tail)."""
    return -(log_ndtr(-np.abs(z)) + np.log(2)) / np.log(10)


def _curves(logp, w, hv, model_share) -> dict:
    """Observed and model -log10 shares on the grid ``hv`` and the 95% binomial band."""
    order = np.argsort(logp)
    sorted_logp, sorted_w = logp[order], w[order]
    tail_w = np.concatenate([np.cumsum(sorted_w[::-1])[::-1], [0.0]])
    total = float(w.sum())
    data_share = (tail_w[np.searchsorted(sorted_logp, hv, side="left")] / total
                  if total > 0 else np.full(hv.shape, np.nan))
    n_eff = max(total, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = betaincinv(model_share * n_eff, (1 - model_share) * n_eff + 1, 0.025)
        upper = betaincinv(model_share * n_eff + 1, (1 - model_share) * n_eff, 0.975)
        return {"hv_logp": hv, "data_logpvec": -np.log10(data_share),
                "model_logpvec": -np.log10(model_share), "ci_lower": -np.log10(upper),
                "ci_upper": -np.log10(lower), "n_tags": int(np.count_nonzero(w)),
                "sum_weights": total}


def _grid(logp, n_points, max_logp):
    top = float(np.max(logp)) if max_logp is None else max_logp
    return np.linspace(0.0, min(max(top, 1.0), MAX_QQ_LOGP), n_points)


def qq_curves(data: MixerData, params, mask=None, *, n_points: int = 200,
              max_logp: float | None = None, method: str = "convolve") -> dict:
    """Q-Q data of the tags in ``mask`` (all when None); see the module docstring.

    ``method``: likelihood behind the model curve, "convolve" (exact) or "fast" (moments).
    """
    mask = np.ones(data.n_tags, bool) if mask is None else np.asarray(mask, bool)
    logp = _logp(data.z)
    hv = _grid(logp[mask], n_points, max_logp)
    thresholds = -ndtri(10.0 ** (-hv) / 2)
    share = model_tail_probability(data, params, thresholds, mask, method=method)
    return _curves(logp, data.weights * mask, hv, share)


def stratified_qq(data: MixerData, params, maf, *, n_points: int = 100,
                  method: str = "convolve") -> dict:
    """3x3 Q-Q panels: tertiles of minor allele frequency (rows) x LD score l_j (columns).

    ``maf``: minor allele frequency of the tags. Returns {"maf_edges", "ld_edges",
    "panels": [[qq dict, ...] x 3] x 3}; the model tails of all panels come from one pass.
    """
    maf = np.asarray(maf, dtype=float)
    l2, _ = data.ld_moments
    maf_edges = np.quantile(maf, [0, 1 / 3, 2 / 3, 1])
    ld_edges = np.quantile(l2, [0, 1 / 3, 2 / 3, 1])
    maf_bin = np.clip(np.searchsorted(maf_edges, maf, side="right") - 1, 0, 2)
    ld_bin = np.clip(np.searchsorted(ld_edges, l2, side="right") - 1, 0, 2)
    label = 3 * maf_bin + ld_bin
    logp = _logp(data.z)
    hv = _grid(logp, n_points, None)
    thresholds = -ndtri(10.0 ** (-hv) / 2)
    shares = model_tail_probability(data, params, thresholds, label, method=method)
    shares = np.vstack([shares, np.full((9 - shares.shape[0], hv.size), np.nan)])
    panels = [[_curves(logp, data.weights * (label == 3 * a + b), hv, shares[3 * a + b])
               for b in range(3)] for a in range(3)]
    return {"maf_edges": maf_edges, "ld_edges": ld_edges, "panels": panels}


def power_data(data: MixerData, params, *, n_grid=None, z_threshold: float = 5.45) -> dict:
    """Power curve S(N) on a log grid of N (default 10^3 .. 10^8)."""
    n_grid = np.logspace(3, 8, 41) if n_grid is None else np.asarray(n_grid, dtype=float)
    return {"nvec": n_grid, "svec": power_curve(data, params, n_grid, z_threshold=z_threshold)}


def _draw_qq(ax, qq, title=None):
    hv = qq["hv_logp"]
    finite = np.concatenate([v[np.isfinite(v)] for v in (qq["data_logpvec"], qq["model_logpvec"])])
    xmax = 1.05 * float(finite.max()) if finite.size else 1.0
    lower = np.minimum(np.nan_to_num(qq["ci_lower"], nan=xmax, posinf=xmax), xmax)
    upper = np.minimum(np.nan_to_num(qq["ci_upper"], nan=xmax, posinf=xmax), xmax)
    ax.fill_betweenx(hv, lower, upper, color="0.85", label="95% band")
    ax.plot(qq["data_logpvec"], hv, color="C0", label="data")
    ax.plot(qq["model_logpvec"], hv, color="C3", ls="--", label="model")
    ax.plot([0, xmax], [0, xmax], color="0.5", lw=0.8)
    ax.set_xlim(0, xmax)
    ax.set_xlabel("expected -log10 p")
    ax.set_ylabel("observed -log10 p")
    if title:
        ax.set_title(title, fontsize=9)


def save_figure(fig, out_prefix) -> list[str]:
    """Write ``{out_prefix}.png`` and ``{out_prefix}.pdf`` atomically; returns the paths.

    Both are cropped to the figure's tight bounding box (plus matplotlib's 0.1-inch pad),
    measured once: ``bbox_inches="tight"`` would draw the figure an extra time per file.
    """
    from bayesmix.io.files import atomic_path

    fig.set_dpi(120)
    crop = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.1)
    paths = []
    for ext in ("png", "pdf"):
        path = f"{out_prefix}.{ext}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=120, bbox_inches=crop)
        paths.append(path)
    return paths


def plot_qq(qq: dict, out_prefix) -> list[str]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    _draw_qq(ax, qq, f"{qq['n_tags']} tags")
    ax.legend(loc="upper left", fontsize=8)
    paths = save_figure(fig, out_prefix)
    plt.close(fig)
    return paths


def plot_stratified_qq(strat: dict, out_prefix) -> list[str]:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 3, figsize=(10, 10), sharey=True)
    me, le = strat["maf_edges"], strat["ld_edges"]
    for a in range(3):
        for b in range(3):
            _draw_qq(axes[a, b], strat["panels"][a][b],
                     f"MAF {me[a]:.2f}-{me[a + 1]:.2f}, LD {le[b]:.1f}-{le[b + 1]:.1f}")
    fig.tight_layout()
    paths = save_figure(fig, out_prefix)
    plt.close(fig)
    return paths


def plot_power(power: dict, out_prefix) -> list[str]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(power["nvec"], power["svec"], color="C0")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("GWAS sample size N")
    ax.set_ylabel("share of h2 captured by significant SNPs")
    paths = save_figure(fig, out_prefix)
    plt.close(fig)
    return paths


def plot_replicates(ci: dict, keys, out_prefix) -> list[str]:
    """The spread of replicate fits (:mod:`bayesmix.report.mixer_combine`): one panel per
    quantity of ``keys``, each replicate's estimate as a point, the mean as a line and
    mean +- SD as a band. ``ci``: quantity -> {mean, std, values}."""
    import matplotlib.pyplot as plt

    keys = list(keys)
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(2.6 * max(len(keys), 1), 3.4),
                             squeeze=False)
    for ax, key in zip(axes[0], keys):
        entry = ci[key]
        values = np.array([np.nan if v is None else v for v in entry["values"]], dtype=float)
        x = np.arange(1, len(values) + 1)
        ax.axhspan(entry["mean"] - entry["std"], entry["mean"] + entry["std"], color="0.88")
        ax.axhline(entry["mean"], color="C3", lw=1)
        ax.plot(x, values, "o", color="C0", ms=4)
        ax.set_xlabel("replicate")
        ax.ticklabel_format(axis="y", useOffset=False, style="sci", scilimits=(-3, 4))
        ax.set_title(f"{key}\n{entry['mean']:.3g} (SD {entry['std']:.2g})", fontsize=9)
    fig.tight_layout()
    paths = save_figure(fig, out_prefix)
    plt.close(fig)
    return paths
