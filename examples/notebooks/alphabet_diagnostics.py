# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Posterior diagnostics of a Bayesian alphabet model
#
# BayesC on the 1000 Genomes chr22 genotypes shipped with bayesmix (503 people, the first
# 1,000 SNPs) and a trait simulated on them with bayesmix's own simulator, so the truth is
# known: 5 causal SNPs explaining h2 = 0.6.
#
# The model is a PyMC graph; `bayesmix.inference.gibbs.sample` runs `pm.sample` with the
# bayesmix Gibbs steps (a numba sweep over the effects and closed-form updates of the
# hyperparameters) and returns an ArviZ `DataTree`. The notebook checks convergence (trace
# and rank plots, R-hat, effective sample sizes), compares posterior inclusion
# probabilities (PIPs) with the simulated causal SNPs, and swaps two hyperpriors to see how
# much the posterior depends on them.
#
# Each check is an `assert` against the simulation's truth, so a wrong result stops the
# notebook (the test suite runs it, tests/test_notebooks.py).

# %%
# %matplotlib inline
import warnings

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm

from bayesmix.data import example_bfile
from bayesmix.inference.gibbs import make_steps, sample
from bayesmix.io.plink import Genotypes
from bayesmix.models.alphabet import AlphabetModel
from bayesmix.prepare.alphabet_data import AlphabetData
from bayesmix.simulate.effects import bayesc_effects
from bayesmix.simulate.phenotype import simulate_phenotypes

warnings.filterwarnings("ignore", message="Numba will use object mode")

# %% [markdown]
# ## A trait with a known truth
#
# `bayesc_effects` draws standardised effects b_j = beta_j sqrt(H_j) (phenotype SD per
# standardised genotype) for 5 causal SNPs; `simulate_phenotypes` adds noise so that the
# genetic values explain 60% of the phenotypic variance in these 503 people
# (`h2_sample`, the realised heritability the model should recover).

# %%
bfile = example_bfile(22)
first_snps = Genotypes.open(bfile).snps["snp"].to_numpy()[:1000]
geno = Genotypes.open(bfile, extract=first_snps, drop_monomorphic=True)
rng = np.random.default_rng(7)
effects = bayesc_effects(geno.heterozygosity, 0.6, rng=rng, n_causal=5)
pheno = simulate_phenotypes(geno, effects, 0.6, rng=rng)
h2_true = float(pheno.h2_sample[0])
data = AlphabetData.from_plink(geno, pheno.y[:, 0])
causal = effects.causal
print(f"{geno.n_samples} people, {geno.n_snps} SNPs; realised h2 = {h2_true:.3f}")
print("causal SNPs:", list(geno.snps["snp"].to_numpy()[causal]))
print("their standardised effects:", np.round(effects.b_std[causal], 3))

# %% [markdown]
# ## BayesC with GCTB's default priors, two chains
#
# `make_steps` lists the step methods `pm.sample` will use: each hyperparameter whose prior
# is conjugate gets its closed-form Gibbs step.

# %%
default = AlphabetModel(data, "C")
print([type(step).__name__ for step in make_steps(default)])
tree = sample(default, draws=300, tune=150, chains=2, random_seed=1)
hyper = ["pi", "sig2_beta", "sig2_e"]
summary = az.summary(tree, var_names=hyper)
summary

# %% [markdown]
# R-hat compares the chains with each other (1 when they agree); the bulk and tail effective
# sample sizes say how many independent draws the autocorrelated chains are worth.

# %%
rhat = az.rhat(tree, var_names=hyper)
ess = az.ess(tree, var_names=hyper)
for name in hyper:
    print(f"{name:10s} R-hat {float(rhat[name]):.3f}   "
          f"ESS {float(ess[name]):.0f}")
assert (summary["r_hat"].astype(float) < 1.05).all(), summary
assert (summary["ess_bulk"].astype(float) > 100).all(), summary

# %% [markdown]
# ### Trace and rank plots
#
# Left: the marginal posterior of each chain; right: the draws in order. Well-mixed chains
# overlap and look like noise around a stable level.

# %%
az.plot_trace_dist(tree, var_names=hyper)
plt.show()

# %% [markdown]
# Rank plots: all draws of both chains are ranked together and each chain's ranks are
# histogrammed. When the chains sample the same distribution each histogram is flat.

# %%
az.plot_rank(tree, var_names=hyper)
plt.show()

# %% [markdown]
# ## Heritability
#
# The effects step reports the genetic variance var(X beta) of each draw
# (`sample_stats.genetic_variance`); hsq = var(X beta) / (var(X beta) + sig2_e).

# %%
def hsq_draws(tree):
    genetic = tree.sample_stats["genetic_variance"]
    return (genetic / (genetic + tree.posterior["sig2_e"])).values.ravel()


hsq = hsq_draws(tree)
print(f"hsq {hsq.mean():.3f} (posterior SD {hsq.std():.3f}); truth {h2_true:.3f}")
assert abs(hsq.mean() - h2_true) < 3 * hsq.std()

# %% [markdown]
# ## Posterior inclusion probabilities against the truth
#
# PIP_j = P(beta_j != 0 | data) is the share of draws in which SNP j is in the slab
# component. SNPs in strong LD carry the same signal, so a causal SNP's probability can be
# shared with its LD partners: the check is on the summed PIP of the SNPs with
# r^2 >= 0.8 with each strong causal SNP (|b| >= 0.15, chi-square of about 11 in 503 people
# or more).

# %%
pip = (tree.posterior["comp"] > 0).mean(("chain", "draw")).values
x = geno.read(standardize=True, dtype=np.float64)
r2_with_causal = (x[:, causal].T @ x / geno.n_samples) ** 2  # (causal, SNP)
for k, j in enumerate(causal):
    group = r2_with_causal[k] >= 0.8
    print(f"{geno.snps['snp'].iloc[j]:12s} b = {effects.b_std[j]:+.3f}  PIP {pip[j]:.3f}  "
          f"LD group of {group.sum()} SNPs: summed PIP {pip[group].sum():.3f}")
    if abs(effects.b_std[j]) >= 0.15:
        assert pip[group].sum() > 0.9, (j, pip[group])
unlinked = (r2_with_causal < 0.1).all(axis=0)
print(f"{unlinked.sum()} SNPs unlinked to every causal SNP: mean PIP {pip[unlinked].mean():.4f}, "
      f"largest {pip[unlinked].max():.3f}")
assert pip[unlinked].mean() < 0.02

# %%
position = geno.snps["bp"].to_numpy() / 1e6
fig, ax = plt.subplots(figsize=(9, 3.2))
ax.scatter(position, pip, s=8, color="C0", label="SNP")
ax.scatter(position[causal], pip[causal], s=60, facecolors="none", edgecolors="C3", lw=1.5,
           label="simulated causal SNP")
ax.set_xlabel("chr22 position (Mb)")
ax.set_ylabel("PIP")
ax.set_ylim(-0.03, 1.05)
ax.legend(loc="upper right")
plt.show()

# %% [markdown]
# ## Swapping hyperpriors
#
# `hyperpriors=` replaces the prior of `pi`, `sig2_beta`, `sig2_e` or `S` by any PyMC
# distribution. Here pi gets an informative Beta(20, 180) prior (mean 0.1, twenty times the
# true share of causal SNPs) and sig2_beta a half-normal prior instead of the scaled inverse
# chi-square. The Beta prior, declared without a transform, is still conjugate, so `pi` keeps
# its Gibbs step; the half-normal is not, and `make_steps` hands `sig2_beta` to a
# Metropolis step on its Markov blanket.

# %%
a, b = 20.0, 180.0
swapped = AlphabetModel(data, "C", hyperpriors={
    "pi": lambda name: pm.Beta(name, a, b, default_transform=None),
    "sig2_beta": lambda name: pm.HalfNormal(name, sigma=0.5),
})
print([type(step).__name__ for step in make_steps(swapped)])
tree_swapped = sample(swapped, draws=300, tune=150, chains=2, random_seed=1)
az.summary(tree_swapped, var_names=hyper)

# %% [markdown]
# Given the indicators, pi | comp ~ Beta(a + k, b + M - k) with k the number of SNPs in the
# slab, so the posterior mean of pi must equal the average of (a + k) / (a + b + M) over
# the draws (up to Monte Carlo error): a check that the sampler used the prior we declared
# (with Beta(1, 1) in place of Beta(20, 180) the two would differ by about 0.014).

# %%
def pi_matches_its_prior(tree, a, b, m):
    k = (tree.posterior["comp"] > 0).sum("snp").values.ravel()
    pi = tree.posterior["pi"].values.ravel()
    diff = pi - (a + k) / (a + b + m)
    return diff.mean(), diff.std() / np.sqrt(diff.size)


m = default.n_snps
for label, t, prior in (("default Beta(1, 1)", tree, (1.0, 1.0)),
                        (f"swapped Beta({a:g}, {b:g})", tree_swapped, (a, b))):
    mean_diff, se = pi_matches_its_prior(t, *prior, m)
    print(f"{label:22s} E[pi] - E[(a + k)/(a + b + M)] = {mean_diff:+.5f} (MC SE {se:.5f})")
    assert abs(mean_diff) < 4 * se + 1e-4

# %% [markdown]
# The informative prior admits more (small) effects and pulls pi up; heritability, which the
# data pin down, barely moves.

# %%
hsq_swapped = hsq_draws(tree_swapped)
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
for ax, (name, values) in zip(axes, [
        ("pi", (tree.posterior["pi"].values.ravel(), tree_swapped.posterior["pi"].values.ravel())),
        ("sig2_beta", (tree.posterior["sig2_beta"].values.ravel(),
                       tree_swapped.posterior["sig2_beta"].values.ravel())),
        ("hsq", (hsq, hsq_swapped))]):
    for v, label, color in zip(values, ("default priors", "swapped priors"), ("C0", "C1")):
        ax.hist(v, bins=40, density=True, alpha=0.55, color=color, label=label)
    ax.set_title(name)
axes[2].axvline(h2_true, color="k", ls="--", label="truth")
axes[2].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
pi_default = float(tree.posterior["pi"].mean())
pi_swapped = float(tree_swapped.posterior["pi"].mean())
print(f"pi: {pi_default:.4f} (default) vs {pi_swapped:.4f} (Beta({a:g}, {b:g})); "
      f"truth {len(causal) / m:.4f}")
print(f"hsq: {hsq.mean():.3f} vs {hsq_swapped.mean():.3f}; truth {h2_true:.3f}")
assert pi_swapped > 1.5 * pi_default
assert abs(hsq_swapped.mean() - h2_true) < 3 * hsq_swapped.std()
