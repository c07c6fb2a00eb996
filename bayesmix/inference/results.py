"""Results of alphabet MCMC runs as Python objects and ArviZ data; files are views of these.

:class:`ChainsResult` combines the chains of :func:`bayesmix.inference.chain.run_chains`:
hyperparameter traces (chain, draw), per-SNP posterior summaries pooled over chains (on the
scale of X and per allele of A1), convergence diagnostics from ArviZ on the hyperparameters
only (per-SNP diagnostics would cost ~3 ms per SNP), and an ``xarray.DataTree``
(:meth:`ChainsResult.to_datatree`) that round-trips through netCDF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayesmix.io.files import atomic_path


@dataclass
class ChainsResult:
    """Pooled results of one or more chains.

    Attributes
    ----------
    method : model letter (C, R, S, B ...).
    settings : the ChainSettings used.
    chains : list of ChainResult.
    snps : DataFrame chr, snp, bp, a1, a2 (or None), one row per SNP.
    freq : (M,) A1 frequency of the analysed samples.
    per_allele_factor : (M,) multiply effects on the X scale by this for per-allele effects.
    design_columns : names of the fixed effects.
    """

    method: str
    settings: object
    chains: list
    snps: pd.DataFrame | None
    freq: np.ndarray
    per_allele_factor: np.ndarray
    design_columns: list
    n_components: int
    snp_window: np.ndarray | None = None

    @classmethod
    def from_chains(cls, model, settings, chains) -> "ChainsResult":
        data = model.data
        freq = data.freq if hasattr(data, "freq") else data.genotypes.freq  # summary data: .freq
        return cls(model.method, settings, list(chains), data.snps, freq,
                   np.asarray(model.per_allele_factor, np.float64), list(data.design_columns),
                   model.n_components, getattr(model, "snp_window", None))

    @property
    def interrupted(self) -> bool:
        return any(c.interrupted for c in self.chains)

    @property
    def n_draws(self) -> int:
        """Kept draws per chain (the shortest chain, so traces stack)."""
        return min(len(c.iterations) for c in self.chains)

    @property
    def parameter_names(self) -> list[str]:
        return list(self.chains[0].traces)

    def trace(self, name: str) -> np.ndarray:
        """(chain, draw) array of a monitored quantity."""
        d = self.n_draws
        return np.stack([c.traces[name][:d] for c in self.chains])

    @property
    def snp_accumulator(self):
        acc = self.chains[0].snp
        for c in self.chains[1:]:
            acc = acc.merged(c.snp)
        return acc

    def snp_summary(self) -> pd.DataFrame:
        """Per-SNP posterior summaries pooled over chains.

        Columns: the SNP table, A1Frq, A1Effect and SE (posterior mean and SD of the
        per-allele effect of A1), PIP (P(beta != 0)), Pi1..PiK (component probabilities,
        BayesR), Window (1-based, BayesN/NS) and mean_x_scale / sd_x_scale on the scale of X.
        """
        acc = self.snp_accumulator
        factor = self.per_allele_factor
        table = (self.snps.copy() if self.snps is not None else
                 pd.DataFrame({"snp": [f"snp{j}" for j in range(len(factor))]}))
        table["A1Frq"] = self.freq
        table["A1Effect"] = acc.mean * factor
        table["SE"] = acc.sd * factor
        table["PIP"] = acc.pip
        if self.method == "R":
            for k in range(self.n_components):
                table[f"Pi{k + 1}"] = acc.comp_prob[:, k]
        if self.snp_window is not None:
            table["Window"] = self.snp_window + 1
        table["mean_x_scale"] = acc.mean
        table["sd_x_scale"] = acc.sd
        return table

    def covariate_summary(self) -> pd.DataFrame:
        """Posterior mean and SD of the fixed effects (intercept, covariates)."""
        d = self.n_draws
        draws = np.concatenate([c.alpha[:d] for c in self.chains]) if d else np.zeros((0, len(self.design_columns)))
        return pd.DataFrame({"Covariate": self.design_columns,
                             "Mean": draws.mean(axis=0) if d else np.nan,
                             "SD": draws.std(axis=0, ddof=1) if d > 1 else np.nan})

    def to_datatree(self):
        """ArviZ DataTree: posterior (monitored quantities, alpha), sample_stats, snp_summary.

        ``snp_summary`` is a group with dimension ``snp`` (mean, sd, pip on the X scale,
        per-allele mean and SD, component probabilities with dimension ``component``).
        """
        import arviz as az
        import xarray as xr

        posterior = {name.replace(" ", "_"): self.trace(name) for name in self.parameter_names}
        d = self.n_draws
        posterior["alpha"] = np.stack([c.alpha[:d] for c in self.chains])
        iterations = np.stack([c.iterations[:d] for c in self.chains])
        tree = az.from_dict({"posterior": posterior, "sample_stats": {"iteration": iterations}},
                            dims={"alpha": ["covariate"]},
                            coords={"covariate": self.design_columns})
        acc = self.snp_accumulator
        snp_ids = (self.snps["snp"].astype(str).to_numpy() if self.snps is not None
                   else np.array([f"snp{j}" for j in range(len(self.freq))]))
        summary = xr.Dataset(
            {"mean": ("snp", acc.mean), "sd": ("snp", acc.sd), "pip": ("snp", acc.pip),
             "a1_effect": ("snp", acc.mean * self.per_allele_factor),
             "a1_effect_sd": ("snp", acc.sd * self.per_allele_factor),
             "comp_prob": (("snp", "component"), acc.comp_prob),
             "a1_freq": ("snp", self.freq)},
            coords={"snp": snp_ids, "component": np.arange(self.n_components)},
            attrs={"method": f"Bayes{self.method}", "iterations": int(acc.count),
                   "scale": "mean/sd on the scale of X; a1_effect per allele of A1"})
        tree["snp_summary"] = xr.DataTree(summary)
        return tree

    def diagnostics(self) -> pd.DataFrame:
        """Mean, SD, ESS (bulk, tail) and R-hat of every monitored quantity (ArviZ)."""
        import arviz  # noqa: F401 - registers the ``azstats`` accessor
        import xarray as xr

        rows = []
        for name in self.parameter_names:
            values = self.trace(name)
            row = {"Parameter": name, "Mean": float(values.mean()),
                   "SD": float(values.std(ddof=1)) if values.size > 1 else float("nan"),
                   "ESS_bulk": float("nan"), "ESS_tail": float("nan"), "R_hat": float("nan")}
            if values.shape[1] >= 4 and np.ptp(values) > 0:
                draws = xr.DataArray(values, dims=("chain", "draw")).azstats
                row["ESS_bulk"] = float(draws.ess(method="bulk"))
                row["ESS_tail"] = float(draws.ess(method="tail"))
                if len(self.chains) > 1:
                    row["R_hat"] = float(draws.rhat())
            rows.append(row)
        return pd.DataFrame(rows)

    def to_netcdf(self, path) -> None:
        """Write :meth:`to_datatree` atomically."""
        tree = self.to_datatree()
        with atomic_path(path) as tmp:
            tree.to_netcdf(tmp, engine="h5netcdf")
