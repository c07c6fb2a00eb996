"""Figures of a bivariate MiXeR fit: Venn diagram of unique/shared causal variants,
conditional Q-Q plots (data vs model), observed vs predicted bivariate z density with the
fitted effect-size density, and the log-likelihood profile over pi12.

Every function draws on a matplotlib ``Axes`` (created when ``ax`` is None) and returns it;
the model curves are computed from z-scores simulated from the fitted fast model
(:func:`sample_fast_model`), so data and model go through the same code.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from bayesmix.kernels.mixer_bivariate import PARAM_NAMES


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 4))
    return ax


def _lens_area(r1, r2, d):
    """Area of the intersection of two circles of radii r1, r2 at centre distance d."""
    if d >= r1 + r2:
        return 0.0
    if d <= abs(r1 - r2):
        return math.pi * min(r1, r2) ** 2
    a1 = r1 * r1 * math.acos((d * d + r1 * r1 - r2 * r2) / (2 * d * r1))
    a2 = r2 * r2 * math.acos((d * d + r2 * r2 - r1 * r1) / (2 * d * r2))
    tri = 0.5 * math.sqrt((-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2))
    return a1 + a2 - tri


def plot_venn(venn: dict, *, labels=("trait 1", "trait 2"), ax=None, scale=1000.0,
              colors=("tab:red", "tab:blue")):
    """Area-proportional Venn diagram of causal variants.

    ``venn``: ``{"n1": {"count", "se"}, "n12": ..., "n2": ...}`` (one entry of the JSON's
    ``venn`` block, e.g. ``record["venn"]["total"]``). Counts are printed in units of
    ``scale`` (thousands by default) with their SEs.
    """
    from matplotlib.patches import Circle

    ax = _axes(ax)
    n1, n12, n2 = (max(float(venn[k]["count"]), 0.0) for k in ("n1", "n12", "n2"))
    r1 = math.sqrt((n1 + n12) / math.pi) or 1e-9
    r2 = math.sqrt((n2 + n12) / math.pi) or 1e-9
    if n12 <= 0:
        d = r1 + r2
    elif n12 >= min(n1 + n12, n2 + n12) - 1e-12:
        d = abs(r1 - r2)
    else:
        d = optimize.brentq(lambda x: _lens_area(r1, r2, x) - n12, abs(r1 - r2) + 1e-12,
                            r1 + r2 - 1e-12)
    for (x, r, c) in ((0.0, r1, colors[0]), (d, r2, colors[1])):
        ax.add_patch(Circle((x, 0.0), r, alpha=0.35, color=c, lw=1.5))

    def text(key):
        se = venn[key]["se"]
        value = venn[key]["count"] / scale
        return f"{value:.2f}" + (f"\n({se / scale:.2f})" if se is not None else "")

    left = -r1 + (d - r2 + r1) / 2 if d - r2 > -r1 else -r1 / 2
    right = d + r2 - (d + r2 - r1) / 2 if d + r2 > r1 else d + r2 / 2
    mid = (max(d - r2, -r1) + min(r1, d + r2)) / 2
    ax.text(left, 0, text("n1"), ha="center", va="center")
    ax.text(right, 0, text("n2"), ha="center", va="center")
    ax.text(mid, 0, text("n12"), ha="center", va="center", fontweight="bold")
    ax.text(0, r1 * 1.05, labels[0], ha="center", va="bottom", color=colors[0])
    ax.text(d, r2 * 1.05, labels[1], ha="center", va="bottom", color=colors[1])
    ax.set_xlim(-r1 * 1.2, d + r2 * 1.2)
    ax.set_ylim(-max(r1, r2) * 1.3, max(r1, r2) * 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"causal variants (x{scale:g}; SE in brackets)", fontsize=9)
    return ax


def sample_fast_model(data, params, rng: np.random.Generator, n_rep: int = 10):
    """z-scores simulated from the fitted fast model, ``n_rep`` replicates per tag.

    Returns ``(z1, z2)`` arrays of shape (n_rep, T): per tag, component configuration b is
    drawn with the fast model's weights, then z ~ N(0, Sigma_b) (the likelihood's own mixture).
    """
    theta = dict(zip(PARAM_NAMES, np.asarray(params, dtype=float)))
    l2, l4 = data.trait1.ld_moments
    n1, n2 = data.trait1.n, data.trait2.n
    t = data.n_tags
    safe_l = np.where(l2 > 0, l2, 1.0)
    a = np.full((n_rep, t), theta["sig2_zero1"])
    c = np.full((n_rep, t), theta["sig2_zero2"])
    b = np.full((n_rep, t), theta["rho0"] * math.sqrt(theta["sig2_zero1"] * theta["sig2_zero2"]))
    for name, on1, on2 in (("pi1", 1, 0), ("pi2", 0, 1), ("pi12", 1, 1)):
        pi = theta[name]
        eta = pi * l2 + (1 - pi) * l4 / safe_l
        p = np.where((l2 > 0) & (eta > 0), pi * l2 / np.where(eta > 0, eta, 1.0), 0.0)
        active = rng.random((n_rep, t)) < p
        a += active * on1 * eta * n1 * theta["sig2_beta1"]
        c += active * on2 * eta * n2 * theta["sig2_beta2"]
        if on1 and on2:
            b += active * eta * theta["rho12"] * np.sqrt(n1 * n2 * theta["sig2_beta1"]
                                                         * theta["sig2_beta2"])
    x = rng.standard_normal((2, n_rep, t))
    z1 = np.sqrt(a) * x[0]
    z2 = b / np.sqrt(a) * x[0] + np.sqrt(np.maximum(c - b * b / a, 0.0)) * x[1]
    return z1, z2


def _neglog10p(z):
    """-log10 of the two-sided p-value of z (log scale: finite for any |z|)."""
    return -(special.log_ndtr(-np.abs(z)) + math.log(2)) / math.log(10)


def _qq_curve(z_primary, z_secondary, weights, threshold, n_points=200):
    """(expected, observed) -log10 p of the primary trait among tags whose secondary p <=
    ``threshold``; expected from the pruning-weighted empirical quantiles, thinned to about
    ``n_points`` points on the -log10 scale."""
    w_all = np.broadcast_to(weights, z_primary.shape)
    keep = (_neglog10p(z_secondary) >= -math.log10(threshold)) & (w_all > 0)
    obs = _neglog10p(z_primary[keep])
    order = np.argsort(obs)[::-1]
    obs = obs[order]
    w = w_all[keep][order]
    if not len(obs) or w.sum() <= 0:
        return np.array([]), np.array([])
    expected = -np.log10(np.cumsum(w) / w.sum())
    grid = np.linspace(0, expected.max(), n_points)
    pick = np.unique(np.searchsorted(-expected, -grid, side="left").clip(0, len(obs) - 1))
    return expected[pick], obs[pick]


def conditional_qq_data(data, fit, *, primary: int = 1, thresholds=(1.0, 0.1, 0.01, 0.001),
                        rng=None, n_rep: int = 10) -> dict:
    """Curves of the conditional Q-Q plot: for each threshold on the other trait's p, the
    (expected, observed) -log10 p of the primary trait in the data and in ``n_rep`` data sets
    simulated from the fitted fast model (:func:`sample_fast_model`)."""
    rng = np.random.default_rng(0) if rng is None else rng
    z = (data.trait1.z, data.trait2.z)
    sim = sample_fast_model(data, fit.theta, rng, n_rep)
    first, second = (0, 1) if primary == 1 else (1, 0)
    w = data.weights
    curves = []
    for thr in thresholds:
        x, y = _qq_curve(z[first], z[second], w, thr)
        xm, ym = _qq_curve(sim[first].ravel(), sim[second].ravel(), np.tile(w, n_rep), thr)
        curves.append({"threshold": thr, "data_expected": x, "data_observed": y,
                       "model_expected": xm, "model_observed": ym})
    return {"primary": primary, "curves": curves}


def plot_conditional_qq(data, fit, *, primary: int = 1, thresholds=(1.0, 0.1, 0.01, 0.001),
                        rng=None, n_rep: int = 10, ax=None):
    """Conditional Q-Q plot: -log10 p of the primary trait among tags whose other trait has
    p <= threshold; data (solid) vs the fitted model (dashed, simulated ``n_rep`` times)."""
    import matplotlib.pyplot as plt

    ax = _axes(ax)
    qq = conditional_qq_data(data, fit, primary=primary, thresholds=thresholds, rng=rng,
                             n_rep=n_rep)
    cmap = plt.get_cmap("viridis")
    top = 0.0
    other = 2 if primary == 1 else 1
    for k, curve in enumerate(qq["curves"]):
        color = cmap(k / max(len(qq["curves"]) - 1, 1))
        if len(curve["data_expected"]):
            ax.plot(curve["data_expected"], curve["data_observed"], color=color,
                    label=f"p{other} <= {curve['threshold']:g}")
            top = max(top, curve["data_expected"].max(), curve["data_observed"].max())
        if len(curve["model_expected"]):
            ax.plot(curve["model_expected"], curve["model_observed"], color=color, ls="--")
    ax.plot([0, top], [0, top], color="grey", lw=0.8)
    ax.set_xlabel("expected -log10 p")
    ax.set_ylabel(f"observed -log10 p (trait {primary})")
    ax.legend(fontsize=7, title="data (solid), model (dashed)", title_fontsize=7)
    return ax


def plot_z_density(data, fit, *, rng=None, n_rep: int = 10, lim: float = 8.0, bins: int = 60,
                   axes=None):
    """Observed vs model-predicted density of (z1, z2) (log10 of the 2-D histogram), side by
    side on two axes (created when ``axes`` is None). Returns the two axes."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 4), sharex=True, sharey=True)
    rng = np.random.default_rng(0) if rng is None else rng
    sim = sample_fast_model(data, fit.theta, rng, n_rep)
    edges = np.linspace(-lim, lim, bins + 1)
    for ax, (z1, z2, w, title) in zip(axes, (
            (data.trait1.z, data.trait2.z, data.weights, "observed"),
            (sim[0].ravel(), sim[1].ravel(), np.tile(data.weights, n_rep) / n_rep,
             "predicted"))):
        h, _, _ = np.histogram2d(z1, z2, bins=[edges, edges], weights=w)
        ax.imshow(np.log10(h.T + 1e-3), origin="lower", extent=[-lim, lim, -lim, lim],
                  cmap="magma", vmin=-1)
        ax.set_title(f"{title} z density (log10)", fontsize=9)
        ax.set_xlabel("z1")
    axes[0].set_ylabel("z2")
    return axes


def plot_beta_density(fit, *, rng=None, n: int = 20000, ax=None):
    """Fitted density of causal (per-allele) effects (beta1, beta2): a sample of the three
    causal components (trait-1 only on the x axis, trait-2 only on the y axis, shared with
    correlation rho12)."""
    ax = _axes(ax)
    rng = np.random.default_rng(0) if rng is None else rng
    p = fit.params
    weights = np.array([p["pi1"], p["pi2"], p["pi12"]])
    counts = rng.multinomial(n, weights / weights.sum())
    s1, s2 = math.sqrt(p["sig2_beta1"]), math.sqrt(p["sig2_beta2"])
    cov = [[s1 * s1, p["rho12"] * s1 * s2], [p["rho12"] * s1 * s2, s2 * s2]]
    shared = rng.multivariate_normal([0, 0], cov, counts[2])
    ax.scatter(rng.normal(0, s1, counts[0]), np.zeros(counts[0]), s=2, alpha=0.3,
               label="trait 1 only", color="tab:red")
    ax.scatter(np.zeros(counts[1]), rng.normal(0, s2, counts[1]), s=2, alpha=0.3,
               label="trait 2 only", color="tab:blue")
    ax.scatter(shared[:, 0], shared[:, 1], s=2, alpha=0.3, label="shared", color="tab:purple")
    ax.set_xlabel("beta1 (per allele)")
    ax.set_ylabel("beta2 (per allele)")
    ax.legend(fontsize=7, markerscale=4)
    return ax


def plot_pi12_profile(profile: dict, *, fit=None, ax=None):
    """Log-likelihood profile over pi12 (from :func:`~bayesmix.inference.mle_bivariate.
    profile_pi12`), relative to its maximum; the fit's pi12 as a vertical line."""
    ax = _axes(ax)
    loglik = np.asarray(profile["loglik"])
    ax.plot(profile["pi12"], loglik - loglik.max(), marker="o", ms=3)
    if fit is not None:
        ax.axvline(fit.params["pi12"], color="tab:red", ls="--", label="estimate")
        ax.legend(fontsize=7)
    ax.set_xlabel("pi12 (shared causal fraction)")
    ax.set_ylabel("log-likelihood - max")
    return ax
