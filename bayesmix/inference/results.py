"""Results of alphabet MCMC runs as Python objects and ArviZ data; files are views of these.

:class:`ChainsResult` combines the chains of :func:`bayesmix.inference.chain.run_chains`:
hyperparameter traces (chain, draw), per-SNP posterior summaries pooled over chains (on the
scale of X and per allele of A1), convergence diagnostics from ArviZ on the hyperparameters
only (per-SNP diagnostics would cost ~3 ms per SNP), and an ``xarray.DataTree``
(:meth:`ChainsResult.to_datatree`) that round-trips through netCDF.

Interrupted runs: the chains may have unequal lengths, and chains never started have none.
Everything is then computed over what finished: per-SNP summaries pool every finished
post-burn-in iteration of every chain (each iteration weighs the same), the fixed effects and
the Mean / SD of the monitored quantities pool every kept draw, traces are padded with NaN to
the longest chain, and :meth:`ChainsResult.diagnostics` documents its ESS / R-hat rule.
``n_draws == 0`` (no kept draw in any chain) is the only case with nothing to write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from bayesmix.io.netcdf import Group, write_groups
from bayesmix.kernels.diagnostics import ess_bulk, ess_tail, rhat


@dataclass
class ChainsResult:
    """Pooled results of one or more chains.

    Attributes
    ----------
    method : model letter (C, R, S, B ...).
    settings : the ChainSettings used.
    chains : list of ChainResult, one per chain in chain order (chains not started included,
        with no draws).
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
        """Some chain stopped before its end (or never started) because of a stop request."""
        return any(c.interrupted for c in self.chains)

    @property
    def exit_code(self) -> int:
        """0 when every chain completed, else 128 + the number of the signal that stopped
        the run (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP), as a shell reports it."""
        if not self.interrupted:
            return 0
        return 128 + next((c.stopped_by for c in self.chains if c.stopped_by), 2)

    @property
    def draws_per_chain(self) -> list[int]:
        """Kept draws of each chain (unequal when interrupted; 0 for a chain not started)."""
        return [len(c.iterations) for c in self.chains]

    @property
    def n_draws(self) -> int:
        """Kept draws of all chains together; 0 means there is nothing to write."""
        return sum(self.draws_per_chain)

    @property
    def seconds_per_iteration(self) -> float:
        """Wall seconds per iteration run in this process, over all chains (NaN if none ran)."""
        ran = sum(c.iterations_run for c in self.chains)
        return sum(c.seconds for c in self.chains) / ran if ran else float("nan")

    def progress_summary(self) -> str:
        """One line: the iterations each chain finished, e.g. ``chain 0: 3000/3000; chain 1:
        1200/3000 (interrupted); chain 2: not started``."""
        total = self.settings.chain_length
        parts = []
        for c in self.chains:
            state = ("not started" if c.completed == 0 else f"{c.completed}/{total}"
                     + (" (interrupted)" if c.interrupted else ""))
            parts.append(f"chain {c.chain}: {state}")
        return "; ".join(parts)

    @property
    def parameter_names(self) -> list[str]:
        return list(self.chains[0].traces)

    def trace(self, name: str) -> np.ndarray:
        """(chain, draw) array of a monitored quantity; chains shorter than the longest
        (interrupted, or not started) are padded with NaN."""
        d = max(self.draws_per_chain)
        out = np.full((len(self.chains), d), np.nan)
        for i, c in enumerate(self.chains):
            out[i, :len(c.iterations)] = c.traces[name]
        return out

    def pooled(self, name: str) -> np.ndarray:
        """(n_draws,) every kept draw of a monitored quantity, chains one after the other."""
        return np.concatenate([np.asarray(c.traces[name], np.float64) for c in self.chains])

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
        """Posterior mean and SD of the fixed effects (intercept, covariates) over every kept
        draw of every chain."""
        d = self.n_draws
        draws = np.concatenate([c.alpha for c in self.chains])
        return pd.DataFrame({"Covariate": self.design_columns,
                             "Mean": draws.mean(axis=0) if d else np.nan,
                             "SD": draws.std(axis=0, ddof=1) if d > 1 else np.nan})

    def netcdf_groups(self) -> dict:
        """The groups of :meth:`to_datatree` as :class:`~bayesmix.io.netcdf.Group` (numpy)."""
        from bayesmix import __version__

        sample = ("chain", "draw")
        posterior = {name.replace(" ", "_"): (sample, self.trace(name))
                     for name in self.parameter_names}
        d = max(self.draws_per_chain)
        alpha = np.full((len(self.chains), d, len(self.design_columns)), np.nan)
        iterations = np.zeros((len(self.chains), d), np.int64)
        for i, c in enumerate(self.chains):
            alpha[i, :len(c.iterations)] = c.alpha
            iterations[i, :len(c.iterations)] = c.iterations
        posterior["alpha"] = (sample + ("covariate",), alpha)
        # the groups as ArviZ's from_dict lays them out
        coords = {"chain": np.arange(len(self.chains)), "draw": np.arange(d)}
        attrs = {"created_at": datetime.now(timezone.utc).isoformat(),
                 "creation_library": "bayesmix", "creation_library_version": __version__,
                 "creation_library_language": "Python", "sample_dims": list(sample)}
        acc = self.snp_accumulator
        snp_ids = (self.snps["snp"].astype(str).to_numpy() if self.snps is not None
                   else np.array([f"snp{j}" for j in range(len(self.freq))]))
        summary = Group(
            {"mean": (("snp",), acc.mean), "sd": (("snp",), acc.sd), "pip": (("snp",), acc.pip),
             "a1_effect": (("snp",), acc.mean * self.per_allele_factor),
             "a1_effect_sd": (("snp",), acc.sd * self.per_allele_factor),
             "comp_prob": (("snp", "component"), acc.comp_prob),
             "a1_freq": (("snp",), np.asarray(self.freq))},
            coords={"snp": snp_ids, "component": np.arange(self.n_components)},
            attrs={"method": f"Bayes{self.method}", "iterations": int(acc.count),
                   "scale": "mean/sd on the scale of X; a1_effect per allele of A1"})
        return {"posterior": Group(posterior, {**coords,
                                               "covariate": np.asarray(self.design_columns)},
                                   attrs),
                "sample_stats": Group({"iteration": (sample, iterations)}, coords, attrs),
                "snp_summary": summary}

    def to_datatree(self):
        """ArviZ DataTree: posterior (monitored quantities, alpha), sample_stats, snp_summary.

        ``snp_summary`` is a group with dimension ``snp`` (mean, sd, pip on the X scale,
        per-allele mean and SD, component probabilities with dimension ``component``).
        Chains shorter than the longest are padded with NaN (and iteration 0) at the end.
        """
        import xarray as xr

        return xr.DataTree.from_dict({
            name: xr.Dataset(group.data_vars, coords=group.coords, attrs=group.attrs)
            for name, group in self.netcdf_groups().items()})

    def diagnostics(self) -> pd.DataFrame:
        """Mean, SD, ESS (bulk, tail) and R-hat of every monitored quantity (ArviZ's
        definitions, computed by :mod:`bayesmix.kernels.diagnostics`).

        Mean and SD are over every kept draw of every chain. When the chains with draws have
        equal lengths, ESS and R-hat are ArviZ's multi-chain estimates. Otherwise (an
        interrupted run) ESS is the sum of the per-chain ESS of the chains with at least 4
        draws, and R-hat compares those chains cut to the shortest of them. NaN where a
        quantity is constant or there are fewer than 4 draws (R-hat: fewer than 2 chains).
        """
        rows = []
        lengths = [n for n in self.draws_per_chain if n]
        for name in self.parameter_names:
            pooled = self.pooled(name)
            row = {"Parameter": name, "Mean": float(pooled.mean()) if pooled.size else np.nan,
                   "SD": float(pooled.std(ddof=1)) if pooled.size > 1 else float("nan"),
                   "ESS_bulk": float("nan"), "ESS_tail": float("nan"), "R_hat": float("nan")}
            chains = [np.asarray(c.traces[name]) for c in self.chains if len(c.traces[name]) >= 4]
            if chains and np.ptp(np.concatenate(chains)) > 0:
                if len(set(lengths)) == 1:
                    draws = np.stack(chains)
                    row["ESS_bulk"] = ess_bulk(draws)
                    row["ESS_tail"] = ess_tail(draws)
                else:
                    per_chain = [v[None, :] for v in chains if np.ptp(v) > 0]
                    row["ESS_bulk"] = float(sum(ess_bulk(v) for v in per_chain))
                    row["ESS_tail"] = float(sum(ess_tail(v) for v in per_chain))
                if len(chains) > 1:
                    shortest = min(len(v) for v in chains)
                    row["R_hat"] = rhat(np.stack([v[:shortest] for v in chains]))
            rows.append(row)
        return pd.DataFrame(rows)

    def to_netcdf(self, path) -> None:
        """Write the groups of :meth:`to_datatree` atomically (without building it: see
        :mod:`bayesmix.io.netcdf`)."""
        write_groups(path, self.netcdf_groups())
