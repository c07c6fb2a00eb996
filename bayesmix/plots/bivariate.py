"""Figures of a bivariate MiXeR fit: Venn diagram of unique/shared causal variants,
conditional Q-Q plots (data vs model), observed vs predicted bivariate z density with the
fitted effect-size density, and the log-likelihood profile over pi12.

Every drawing function draws on a matplotlib ``Axes`` (created when ``ax`` is None) and
returns it. Plots with data behind them have a data function returning plain dicts of arrays
(also written to the test JSON) and a drawing function that accepts those dicts as read back
from JSON: :func:`conditional_qq_data` / :func:`draw_conditional_qq`, and
:func:`~bayesmix.inference.mle_bivariate.profile_pi12` / :func:`plot_pi12_profile`.

The conditional Q-Q model curves are exact tail probabilities of the model that produced the
fit (fast: a mixture of 8 bivariate normals per tag, :func:`fast_mixture`; full: the average
over its causal-set draws), not a simulation; the z density panel compares the data with z
simulated from the fast model (:func:`sample_fast_model`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from bayesmix.kernels.mixer_bivariate import N_FAST_COMPONENTS, PARAM_NAMES, null_covariance

#: strata of the conditional Q-Q plot: p-value of the other trait <= threshold (1 = all SNPs)
QQ_THRESHOLDS = (1.0, 0.1, 0.01, 0.001)
#: -log10 of genome-wide significance (5e-8): the Q-Q plots' default top
GENOME_WIDE_LOGP = -math.log10(5e-8)


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


def fast_mixture(data, params):
    """The fast model of each tag as a mixture of 8 zero-mean bivariate normals.

    Component b (bit pattern as in :mod:`bayesmix.kernels.mixer_bivariate`: ``b & 1`` trait-1
    causal variants in LD, ``b & 2`` trait-2, ``b & 4`` shared) has weight
    prod_c p_c^[c in b] (1 - p_c)^[c not in b] and covariance
    [[a0 + (e1 + e12) N1 sig2_beta1, b0 + e12 rho12 sqrt(N1 N2 sig2_beta1 sig2_beta2)],
    [., c0 + (e2 + e12) N2 sig2_beta2]] with e_c = eta_c if c in b else 0 (p_c, eta_c the
    two-point moments of the likelihood) and (a0, b0, c0) the tag's null covariance, which
    includes its weak-LD sum ``data.trait1.weak``
    (:func:`~bayesmix.kernels.mixer_bivariate.null_covariance`). Returns
    ``(weights, var1, cov, var2)``, each (T, 8), on the z-score scale.
    """
    params = np.asarray(params, dtype=np.float64)
    theta = dict(zip(PARAM_NAMES, params))
    l2, l4 = data.trait1.ld_moments
    n1, n2 = data.trait1.n, data.trait2.n
    p_c, eta_c = [], []
    for name in ("pi1", "pi2", "pi12"):
        pi = theta[name]
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = np.where(l2 > 0, pi * l2 + (1 - pi) * l4 / np.where(l2 > 0, l2, 1.0), 0.0)
            p = np.where(eta > 0, np.minimum(pi * l2 / np.where(eta > 0, eta, 1.0), 1.0), 0.0)
        p_c.append(p)
        eta_c.append(np.where(eta > 0, eta, 0.0))
    a0, b0, c0 = null_covariance(n1, n2, data.trait1.weak, params)
    shared = theta["rho12"] * np.sqrt(n1 * n2 * theta["sig2_beta1"] * theta["sig2_beta2"])
    shape = (data.n_tags, N_FAST_COMPONENTS)
    weights, var1, cov, var2 = (np.empty(shape) for _ in range(4))
    for b in range(N_FAST_COMPONENTS):
        on = [(b >> c) & 1 for c in range(3)]
        weights[:, b] = np.prod([p if o else 1 - p for p, o in zip(p_c, on)], axis=0)
        e1, e2, e12 = (eta * o for eta, o in zip(eta_c, on))
        var1[:, b] = a0 + (e1 + e12) * n1 * theta["sig2_beta1"]
        var2[:, b] = c0 + (e2 + e12) * n2 * theta["sig2_beta2"]
        cov[:, b] = b0 + e12 * shared
    return weights, var1, cov, var2


def sample_fast_model(data, params, rng: np.random.Generator, n_rep: int = 10):
    """z-scores simulated from the fitted fast model, ``n_rep`` replicates per tag.

    Returns ``(z1, z2)`` arrays of shape (n_rep, T): per tag, a component of
    :func:`fast_mixture` is drawn by its weight, then z ~ N(0, Sigma_b).
    """
    weights, var1, cov, var2 = fast_mixture(data, params)
    cum = np.cumsum(weights, axis=1)
    u = rng.random((n_rep, data.n_tags)) * cum[:, -1]
    comp = np.minimum((u[:, :, None] > cum[None]).sum(axis=2), N_FAST_COMPONENTS - 1)
    tags = np.arange(data.n_tags)
    a, b, c = var1[tags, comp], cov[tags, comp], var2[tags, comp]
    x = rng.standard_normal((2, n_rep, data.n_tags))
    z1 = np.sqrt(a) * x[0]
    z2 = b / np.sqrt(a) * x[0] + np.sqrt(np.maximum(c - b * b / a, 0.0)) * x[1]
    return z1, z2


def neglog10p(z):
    """-log10 of the two-sided normal p-value of z (from the log tail: finite for any |z|)."""
    return -(special.log_ndtr(-np.abs(np.asarray(z, dtype=float))) + math.log(2)) / math.log(10)


def _data_shares(logp_primary, weights, hv):
    """Weighted share of tags with -log10 p >= each value of ``hv``."""
    order = np.argsort(logp_primary)
    tail = np.concatenate([np.cumsum(weights[order][::-1])[::-1], [0.0]])
    return tail[np.searchsorted(logp_primary[order], hv, side="left")] / tail[0]


def _model_tail_sums(data, fit, primary, tag_w, t, s, n_draws):
    """(joint, marginal, description) of :func:`conditional_qq_data`'s model curves."""
    from bayesmix.kernels import mixer_bivariate_tails as tails

    if fit.method == "full":
        seed = int(fit.options.get("seed", 0))
        k = min(int(n_draws), int(fit.options.get("kmax", n_draws)))
        col_ptr, col_rows, col_r2 = data.trait1.ld_columns
        joint, marginal = tails.full_conditional_tail_sums(
            data.trait1.n, data.trait2.n, data.trait1.weak, col_ptr, col_rows, col_r2,
            data.trait1.het, fit.theta, k, seed, tag_w, primary == 2, t, s, tails.TAIL_RULES)
        return joint, marginal, f"full (K={k} of the fit's causal-set draws, seed={seed})"
    mix = fast_mixture(data, fit.theta)
    if primary == 2:  # swap the traits' roles in every component
        mix = (mix[0], mix[3], mix[2], mix[1])
    joint, marginal = tails.conditional_tail_sums(*mix, tag_w, t, s, tails.TAIL_RULES)
    return joint, marginal, "fast"


def conditional_qq_data(data, fit, *, primary: int = 1, thresholds=QQ_THRESHOLDS,
                        n_points: int = 100, max_logp: float = GENOME_WIDE_LOGP,
                        max_tags: int = 50_000, n_draws: int = 50, rng=None) -> dict:
    """Curves of the conditional Q-Q plot of the ``primary`` trait given the other trait.

    MiXeR's Q-Q convention: ``hv_logp`` is a grid of observed -log10 p of the primary trait
    (``n_points`` values in [0, ``max_logp``]); for each stratum of tags whose other-trait
    p-value is <= threshold (1 = all tags), ``data_logpvec`` is -log10 of the pruning-weighted
    share of the stratum's tags with -log10 p at least the grid value (NaN where no tag is
    left), and ``model_logpvec`` the same share under the fitted model:

        sum_j w_j P_j(|z_p| > t, |z_o| > s) / sum_j w_j P_j(|z_o| > s),

    t and s the |z| thresholds of the grid value and the stratum, P_j tag j's distribution
    under the model that produced the fit: the fast model's mixture of 8 bivariate normals
    (:func:`fast_mixture`), or for a ``full`` fit the average over the first ``n_draws`` of
    its causal-set draws (same seed; at most its K). Bivariate normal tails are exact
    (:mod:`bayesmix.kernels.mixer_bivariate_tails`). The model sums run over all tags with
    w_j > 0, or over a random subset of ``max_tags`` of them (drawn with ``rng``, default
    seed 0) when there are more. A null trait pair gives the diagonal; enrichment of the
    primary trait's association among tags significant for the other trait lifts a stratum's
    curve above the all-SNPs curve.

    Returns ``{"primary", "conditioning", "max_logp", "model", "n_model_tags", "curves"}``;
    each curve has ``threshold``, ``hv_logp``, ``data_logpvec``, ``model_logpvec``,
    ``n_tags`` (tags in the stratum with w > 0) and ``sum_weights``.
    """
    if primary not in (1, 2):
        raise ValueError(f"primary must be 1 or 2, not {primary!r}")
    thresholds = [float(x) for x in thresholds]
    if not all(0 < x <= 1 for x in thresholds):
        raise ValueError(f"stratum thresholds must be p-values in (0, 1], got {thresholds}")
    other = 3 - primary
    z = {1: data.trait1.z, 2: data.trait2.z}
    w = np.asarray(data.weights, dtype=float)
    hv = np.linspace(0.0, max_logp, n_points)
    logp_p, logp_o = neglog10p(z[primary]), neglog10p(z[other])

    tag_w = w.copy()
    live = np.flatnonzero(w > 0)
    if len(live) > max_tags:
        rng = np.random.default_rng(0) if rng is None else rng
        tag_w[:] = 0.0
        keep = rng.choice(live, max_tags, replace=False)
        tag_w[keep] = w[keep]
    t = -special.ndtri(10.0 ** -hv / 2)   # scipy.stats.norm.isf
    s = np.array([-special.ndtri(x / 2) if x < 1 else 0.0 for x in thresholds])
    joint, marginal, model = _model_tail_sums(data, fit, primary, tag_w, t, s, n_draws)
    curves = []
    for i, thr in enumerate(thresholds):
        in_stratum = (logp_o >= -math.log10(thr)) & (w > 0)
        wk = np.where(in_stratum, w, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            data_x = (-np.log10(_data_shares(logp_p, wk, hv)) if wk.sum() > 0
                      else np.full(hv.shape, np.nan))
            model_x = -np.log10(joint[i] / marginal[i])
        curves.append({"threshold": thr, "hv_logp": hv,
                       "data_logpvec": np.where(np.isfinite(data_x), data_x, np.nan),
                       "model_logpvec": np.where(np.isfinite(model_x), model_x, np.nan),
                       "n_tags": int(in_stratum.sum()), "sum_weights": float(wk.sum())})
    return {"primary": primary, "conditioning": other, "max_logp": float(max_logp),
            "model": model, "n_model_tags": int(np.count_nonzero(tag_w)), "curves": curves}


def _stratum_label(threshold, other, n_tags):
    text = "all SNPs" if threshold >= 1 else f"$p_{{{other}}} \\leq {threshold:g}$"
    return f"{text} ({n_tags:,} SNPs)"


def draw_conditional_qq(qq: dict, *, ax=None, trait_names=("trait 1", "trait 2")):
    """Draw :func:`conditional_qq_data` (a dict, also as read back from JSON).

    One colour per stratum (all SNPs, p <= 0.1, 0.01, 0.001 of the conditioning trait): data
    solid, model dashed; the null diagonal dotted. The y axis stops at ``max_logp``
    (genome-wide significance by default, as MiXeR's figures); a model curve stops where its
    stratum's data stop, the x axis where the curves do.
    """
    from matplotlib.lines import Line2D

    ax = _axes(ax)
    primary, other = qq["primary"], qq["conditioning"]
    top_y = float(qq["max_logp"])
    right = 1.0
    handles = []
    for k, curve in enumerate(qq["curves"]):
        color = f"C{k % 10}"
        hv = np.asarray(curve["hv_logp"], dtype=float)
        data_x = np.asarray(curve["data_logpvec"], dtype=float)
        model_x = np.asarray(curve["model_logpvec"], dtype=float)
        finite = np.isfinite(data_x)
        reach = hv[finite].max() if finite.any() else 0.0
        model_x = np.where(hv <= reach, model_x, np.nan)
        ax.plot(data_x, hv, color=color, lw=1.8)
        ax.plot(model_x, hv, color=color, lw=1.5, ls=(0, (5, 2)))
        for x in (data_x, model_x):
            if np.isfinite(x).any():
                right = max(right, float(np.nanmax(x)))
        handles.append(Line2D([], [], color=color, lw=2.5,
                              label=_stratum_label(curve["threshold"], other,
                                                   curve["n_tags"])))
    right = min(1.05 * right, top_y)
    ax.plot([0, top_y], [0, top_y], color="0.35", lw=1.0, ls=":")
    ax.set_xlim(0, right)
    ax.set_ylim(0, top_y)
    handles += [Line2D([], [], color="k", lw=1.8, label="data"),
                Line2D([], [], color="k", lw=1.5, ls=(0, (5, 2)), label="model"),
                Line2D([], [], color="0.35", lw=1.0, ls=":", label="null")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2,
              fontsize=8, frameon=False, handlelength=2.4, labelspacing=0.3,
              columnspacing=1.2, title=f"$p_{other}$: p-value of {trait_names[other - 1]}",
              title_fontsize=8)
    ax.set_xlabel("expected $-\\log_{10}\\,p$")
    ax.set_ylabel(f"observed $-\\log_{{10}}\\,p$, {trait_names[primary - 1]}")
    ax.set_title(f"{trait_names[primary - 1]} | {trait_names[other - 1]}", fontsize=10)
    ax.grid(color="0.92", lw=0.6)
    ax.set_axisbelow(True)
    return ax


def plot_conditional_qq(data, fit, *, primary: int = 1, thresholds=QQ_THRESHOLDS, rng=None,
                        ax=None, trait_names=("trait 1", "trait 2"), **options):
    """Conditional Q-Q plot of the ``primary`` trait given the other trait's significance:
    :func:`conditional_qq_data` (``rng`` and ``options`` passed on) drawn by
    :func:`draw_conditional_qq`. Returns the axes."""
    qq = conditional_qq_data(data, fit, primary=primary, thresholds=thresholds, rng=rng,
                             **options)
    return draw_conditional_qq(qq, ax=ax, trait_names=trait_names)


def plot_conditional_qq_pair(data, fit, *, thresholds=QQ_THRESHOLDS, rng=None, axes=None,
                             trait_names=("trait 1", "trait 2"), **options):
    """Both directions side by side (trait 1 | trait 2, trait 2 | trait 1), as MiXeR's
    ``two`` figures; ``axes`` (two) are created when None. Returns the two axes."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for primary, ax in zip((1, 2), axes):
        plot_conditional_qq(data, fit, primary=primary, thresholds=thresholds, rng=rng, ax=ax,
                            trait_names=trait_names, **options)
    return axes


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
        image = np.log10(h.T + 1e-3)
        # colour scale from 0.1 (weighted) SNPs per cell; a sparse panel may have no cell above
        ax.imshow(image, origin="lower", extent=[-lim, lim, -lim, lim], cmap="magma",
                  vmin=-1, vmax=max(float(image.max()), 0.0))
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
    ax.scatter(rng.normal(0, s1, counts[0]), np.zeros(counts[0]), s=2, alpha=0.3, rasterized=True,
               label="trait 1 only", color="tab:red")
    ax.scatter(np.zeros(counts[1]), rng.normal(0, s2, counts[1]), s=2, alpha=0.3, rasterized=True,
               label="trait 2 only", color="tab:blue")
    ax.scatter(shared[:, 0], shared[:, 1], s=2, alpha=0.3, label="shared", color="tab:purple",
               rasterized=True)  # 20,000 points: an image in PDFs, not 20,000 paths
    ax.set_xlabel("beta1 (per allele)")
    ax.set_ylabel("beta2 (per allele)")
    ax.legend(fontsize=7, markerscale=4)
    return ax


def _criteria_lines(criteria) -> list[str]:
    """'vs <model>: dAIC' lines of a fit's ``criteria`` (positive favours the best model)."""
    lines = []
    for name, label in (("infinitesimal", "infinitesimal"), ("minimal_overlap", "minimal overlap"),
                        ("maximal_overlap", "maximal overlap")):
        value = (criteria or {}).get(f"best_vs_{name}_AIC")
        if value is not None and np.isfinite(value):
            lines.append(f"vs {label}: {value:+.1f}")
    return lines


def plot_pi12_profile(profile: dict, *, fit=None, ax=None, trait_names=("trait 1", "trait 2"),
                      drop: float | None = None):
    """Profile log-likelihood of the number of shared causal variants n12 = pi12 M
    (:func:`~bayesmix.inference.mle_bivariate.profile_pi12`; a dict, also as read from JSON).

    y: log-likelihood minus its maximum (0 at the top); the estimate as a red point and line
    (the profile's maximum when the fit is at the maximum of its objective; otherwise the
    figure says by how much it is not); the 95% likelihood-ratio interval (profile >= max -
    1.92) shaded, with its ends and the estimate's SE (``fit.ci["nc12"]``) in the legend; the
    AIC differences of the best model vs the infinitesimal, minimal- and maximal-overlap
    models (``fit.criteria``; positive favours the best model) below it, both right of the
    axes. The top axis gives the share of the smaller trait's causal variants that are
    shared. The axes show the top ``drop`` log-likelihood units (default 8 x 1.92) and the
    shares where the profile is within them, plus one grid point on each side.
    """
    from bayesmix.inference.mle_bivariate import LR_DROP_95

    ax = _axes(ax)
    est = profile["estimate"]
    n12 = np.append(np.asarray(profile["n12"], dtype=float), est["n12"])
    loglik = np.append(np.asarray(profile["loglik"], dtype=float), est["loglik"])
    order = np.argsort(n12, kind="stable")
    n12, loglik = n12[order], loglik[order]
    top = float(np.nanmax(loglik))
    rel = loglik - top
    drop = 8 * LR_DROP_95 if drop is None else float(drop)
    lower, upper = profile.get("lr95_n12", (None, None))
    ax.plot(n12, rel, color="C0", lw=1.6, marker="o", ms=3.5, zorder=3,
            label=f"profile, {profile.get('objective', 'fast')} likelihood")
    lo = n12[0] if lower is None else lower
    hi = n12[-1] if upper is None else upper
    ax.axvspan(lo, hi, color="C0", alpha=0.12, lw=0,
               label="95% LR interval: " + ("<" if lower is None else f"{lower:,.0f}")
               + " to " + (">" if upper is None else f"{upper:,.0f}"))
    ax.axhline(-LR_DROP_95, color="0.4", lw=0.9, ls="--")
    ax.text(0.01, -LR_DROP_95, "max - 1.92", transform=ax.get_yaxis_transform(),
            va="bottom", ha="left", fontsize=7, color="0.3")
    se = None
    if fit is not None and isinstance(getattr(fit, "ci", None), dict):
        se = (fit.ci.get("nc12") or {}).get("std")
    label = f"estimate: {est['n12']:,.0f}" + (f" (SE {se:,.0f})" if se is not None
                                              and np.isfinite(se) else "")
    ax.axvline(est["n12"], color="C3", lw=1.3, zorder=2)
    ax.plot([est["n12"]], [est["loglik"] - top], "o", color="C3", ms=7, zorder=4, label=label)
    excess = float(profile.get("excess", 0.0))
    if excess > 0:
        ax.text(0.5, 0.02, f"the fit is {excess:.2f} below the profile's maximum",
                transform=ax.transAxes, ha="center", va="bottom", color="C3", fontsize=8)
    ax.legend(loc="upper left", bbox_to_anchor=(1.03, 1.0), fontsize=8,
                       frameon=False, title="shared causal variants $n_{12}$",
                       title_fontsize=8, alignment="left")
    lines = _criteria_lines(getattr(fit, "criteria", None) if fit is not None else None)
    if lines:
        ax.text(1.05, 0.45, "AIC difference, best model\n" + "\n".join(lines)
                + "\n(> 0 favours the best model)", transform=ax.transAxes, ha="left",
                va="top", fontsize=8, linespacing=1.4)
    # the informative window: down to ``drop`` below the maximum, one grid point beyond
    inside = np.flatnonzero(rel >= -drop)
    first, last = max(inside.min() - 1, 0), min(inside.max() + 1, len(n12) - 1)
    pad = 0.02 * (n12[last] - n12[first] or 1.0)
    ax.set_xlim(n12[first] - pad, n12[last] + pad)
    ax.set_ylim(-1.05 * drop, 0.06 * drop)
    ax.set_xlabel("shared causal variants $n_{12} = \\pi_{12} M$")
    ax.set_ylabel("log-likelihood $-$ maximum")
    share_per_n12 = profile["share"][0] / profile["n12"][0] if len(profile["share"]) else None
    if share_per_n12:
        smaller = trait_names[int(profile.get("smaller_trait", 1)) - 1]
        sec = ax.secondary_xaxis("top", functions=(lambda x: 100 * x * share_per_n12,
                                                   lambda y: y / 100 / share_per_n12))
        sec.set_xlabel(f"% of {smaller}'s causal variants shared", fontsize=8)
        sec.tick_params(labelsize=8)
    ax.grid(color="0.92", lw=0.6)
    ax.set_axisbelow(True)
    return ax
