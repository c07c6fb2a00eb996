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
# # SBayesC and SBayesR on summary statistics and LD
#
# The summary-data versions of the alphabet fit GWAS summary statistics (effect, SE, N per
# SNP) and an LD matrix instead of individual genotypes. Here everything is simulated with
# bayesmix, so the truth is known:
#
# 1. genotypes of 2,000 people at 1,000 SNPs with block LD (`simulate_bfile`, blocks of 100
#    SNPs 1 kb apart);
# 2. their LD matrix within 100 kb windows (`build_ld`);
# 3. 10 causal SNPs and the summary statistics of a GWAS of 100,000 people drawn from that LD,
#    z = sqrt(N) R b + e with e ~ N(0, R), the effects scaled so that b'Rb = h2 = 0.3
#    (`simulate_gwas`).
#
# The statistics are drawn from the very LD matrix the model uses, so the LD is in-sample in
# the model's sense (`ld_in_sample=True`; docs/sbayes.md explains the difference with an
# independent reference panel). Each check is an `assert` against the truth.

# %%
# %matplotlib inline
import tempfile

import arviz as az
import matplotlib.pyplot as plt
import numpy as np

from bayesmix.inference.chain import ChainSettings
from bayesmix.inference.sbayes_run import run_sbayes
from bayesmix.io.plink import Genotypes
from bayesmix.ld import build_ld
from bayesmix.prepare.summary_data import prepare_summary_data
from bayesmix.simulate import simulate_bfile, simulate_gwas

# %%
workdir = tempfile.TemporaryDirectory()
prefix = simulate_bfile(f"{workdir.name}/panel", 2000, 1000, rng=np.random.default_rng(1),
                        block_size=100)
geno = Genotypes.open(prefix, drop_monomorphic=True)
ld = build_ld(geno, "window", window_kb=100, progress=False)
h2 = 0.3
sim = simulate_gwas(geno, "C", h2, rng=np.random.default_rng(2), n_gwas=100_000, ld=ld,
                    n_causal=10)
sumstats = sim.sumstats[0]
causal = sim.effects.causal
b_true = sim.effects.b_std
print(f"LD: {ld.shape[0]} SNPs, {ld.nnz / ld.shape[0]:.0f} stored correlations per SNP")
print(f"b'Rb of the simulated effects: {b_true @ (ld.to_scipy() @ b_true):.4f}")
sumstats.head()

# %% [markdown]
# `prepare_summary_data` harmonises the statistics to the LD reference (alleles, QC rules,
# each counted) and builds the summary-data normal equations.

# %%
data = prepare_summary_data(sumstats, ld, ld_in_sample=True)
print(data.qc)

# %% [markdown]
# ## Two models, two chains each
#
# `run_sbayes` runs the alphabet's chain driver with the summary-data Gibbs sweep; its
# result holds hyperparameter traces, per-SNP summaries kept online, and converts to an
# ArviZ `DataTree`.

# %%
settings = ChainSettings(chain_length=500, burn_in=150, out_freq=0, seed=1)
results = {}
for method in ("C", "R"):
    model, result = run_sbayes(data, method, settings, chains=2)
    results[method] = result
    print(f"SBayes{method}: {result.seconds_per_iteration * 1e3:.1f} ms per iteration; "
          f"smallest LD eigenvalue {model.ld_min_eigenvalue:.4f}, ridge {model.ridge:.4f}")
trees = {method: result.to_datatree() for method, result in results.items()}
results["C"].diagnostics()

# %%
results["R"].diagnostics()

# %% [markdown]
# ### Convergence
#
# Trace and rank plots of heritability and of the number of SNPs with a non-zero effect,
# for both models.

# %%
for method, tree in trees.items():
    az.plot_trace_dist(tree, var_names=["hsq", "NnzSnp"])
    plt.suptitle(f"SBayes{method}")
    plt.show()

# %%
az.plot_rank(trees["R"], var_names=["hsq", "NnzSnp", "Pi4"])
plt.show()

# %%
for method, result in results.items():
    table = result.diagnostics().set_index("Parameter")
    print(f"SBayes{method}: R-hat of hsq {table.loc['hsq', 'R_hat']:.3f}, "
          f"ESS {table.loc['hsq', 'ESS_bulk']:.0f}")
    assert table.loc["hsq", "R_hat"] < 1.1
    assert table.loc["hsq", "ESS_bulk"] > 30

# %% [markdown]
# ## Heritability against the truth
#
# With N = 100,000 the posterior SD of hsq is about 0.003, smaller than a known deviation:
# the model turns each z-score into a standardised marginal effect z / sqrt(n + z^2)
# (GCTB's convention, docs/sbayes.md), while the simulator's marginal effect is z / sqrt(N).
# For the strongest SNPs here that is a few percent smaller, and hsq, a sum of squared
# effects, comes out a few percent low (docs/sbayes.md measured -5% to +0.4% in this
# setting). The check is a 10% band around the truth.

# %%
z = sumstats["Z"].to_numpy()
print(f"largest |z| {np.abs(z).max():.0f}: its effect is scaled by "
      f"{1 / np.sqrt(1 + z[np.abs(z).argmax()] ** 2 / 100_000):.3f}")

# %%
fig, ax = plt.subplots(figsize=(5, 3.2))
for method, color in (("C", "C0"), ("R", "C1")):
    draws = trees[method].posterior["hsq"].values.ravel()
    ax.hist(draws, bins=30, density=True, alpha=0.6, color=color, label=f"SBayes{method}")
    print(f"SBayes{method}: hsq {draws.mean():.4f} (SD {draws.std():.4f}); truth {h2}")
    assert abs(draws.mean() / h2 - 1) < 0.10
ax.axvline(h2, color="k", ls="--", label="truth b'Rb")
ax.set_xlabel("hsq")
ax.legend()
plt.show()

# %% [markdown]
# ## Which SNPs are causal?
#
# The per-SNP summaries (`snp_summary` group of the DataTree) hold the PIP and the posterior
# mean effect on the standardised scale. With N = 100,000 and effects of |b| >= 0.03 the
# 10 causal SNPs should be the 10 SNPs with the highest PIP.

# %%
for method, tree in trees.items():
    summary = tree["snp_summary"]
    pip = summary["pip"].values
    top = np.argsort(pip)[::-1][:len(causal)]
    print(f"SBayes{method}: PIP of the causal SNPs {np.round(pip[causal], 3)}; "
          f"largest PIP elsewhere {np.delete(pip, causal).max():.3f}")
    assert set(top) == set(causal)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
summary = trees["R"]["snp_summary"]
position = geno.snps["bp"].to_numpy() / 1e3
axes[0].scatter(position, summary["pip"].values, s=6, color="C0", label="SNP")
axes[0].scatter(position[causal], summary["pip"].values[causal], s=50, facecolors="none",
                edgecolors="C3", lw=1.5, label="causal")
axes[0].set_xlabel("position (kb)")
axes[0].set_ylabel("PIP (SBayesR)")
axes[0].legend()
axes[1].scatter(b_true, summary["mean"].values, s=8)
lim = 1.1 * np.abs(b_true).max()
axes[1].plot([-lim, lim], [-lim, lim], color="0.5", lw=0.8)
axes[1].set_xlabel("true standardised effect b")
axes[1].set_ylabel("posterior mean (SBayesR)")
fig.tight_layout()
plt.show()

# %%
estimate = summary["mean"].values
slope = float(estimate @ b_true / (b_true @ b_true))
print(f"regression of the posterior means on the true effects: slope {slope:.3f}")
assert 0.85 < slope < 1.1
workdir.cleanup()
