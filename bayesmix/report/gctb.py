"""GCTB-format output files, written atomically from a :class:`ChainsResult`.

- ``PREFIX.parRes``: "Posterior statistics from MCMC samples:" then one row per monitored
  quantity with Mean and SD (GCTB's layout; we append ESS and R-hat columns after GCTB's two).
- ``PREFIX.snpRes``: ``Id Name Chrom Position A1 A2 A1Frq A1Effect SE PIP`` (GCTB's columns;
  BayesR adds ``Pi1..PiK``, the posterior probability of each mixture component; BayesN/NS
  add ``Window``, 1-based, as GCTB does). A1Effect and
  SE are the posterior mean and SD of the per-allele effect of A1 (divided by sqrt(2pq) when
  genotypes were standardised, as GCTB does).
- ``PREFIX.covRes``: ``Covariate Mean SD`` of the fixed effects (intercept first).
- ``PREFIX.mcmcsamples.Par``: text; header of the monitored names, one row per kept
  (thinned, post-burn-in) draw, chains one after the other, a ``Chain`` column first.
- ``PREFIX.mcmcsamples.SnpEffects``: binary, little-endian, the non-zero per-allele effects
  of every kept draw (layout in :func:`write_snp_effect_samples`, reader
  :func:`read_snp_effect_samples`). Skipped with ``--no-mcmc-bin``.
- ``PREFIX.log`` is written by the command line (the same lines it prints).
"""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd

from bayesmix.io.files import atomic_open

SNP_EFFECTS_MAGIC = b"BMXSNPE1"


def write_par_res(result, path) -> pd.DataFrame:
    """Write ``.parRes`` (GCTB layout plus ESS / R-hat columns); returns the table."""
    table = result.diagnostics()
    with atomic_open(path) as fh:
        fh.write("    Posterior statistics from MCMC samples:\n\n")
        fh.write(f"{'':>14}{'Mean':>14}{'SD':>14}{'ESS_bulk':>12}{'R_hat':>10}\n")
        for row in table.itertuples(index=False):
            fh.write(f"{row.Parameter:>14}{row.Mean:>14.6f}{row.SD:>14.6f}"
                     f"{row.ESS_bulk:>12.1f}{row.R_hat:>10.4f}\n")
    return table


def snp_res_table(result) -> pd.DataFrame:
    """The ``.snpRes`` table (GCTB column names)."""
    summary = result.snp_summary()
    m = len(summary)
    table = pd.DataFrame({
        "Id": np.arange(1, m + 1),
        "Name": summary["snp"].to_numpy(),
        "Chrom": summary["chr"].to_numpy() if "chr" in summary else np.zeros(m, int),
        "Position": summary["bp"].to_numpy() if "bp" in summary else np.zeros(m, int),
        "A1": summary["a1"].to_numpy() if "a1" in summary else ["NA"] * m,
        "A2": summary["a2"].to_numpy() if "a2" in summary else ["NA"] * m,
        "A1Frq": summary["A1Frq"].to_numpy(),
        "A1Effect": summary["A1Effect"].to_numpy(),
        "SE": summary["SE"].to_numpy(),
        "PIP": summary["PIP"].to_numpy(),
    })
    for column in summary.columns:
        if (column.startswith("Pi") and column[2:].isdigit()) or column == "Window":
            table[column] = summary[column].to_numpy()
    return table


def write_snp_res(result, path) -> pd.DataFrame:
    """Write ``.snpRes``; returns the table."""
    table = snp_res_table(result)
    with atomic_open(path) as fh:
        fh.write(" ".join(table.columns) + "\n")
        for row in table.itertuples(index=False):
            cells = [str(row.Id), str(row.Name), str(row.Chrom), str(row.Position), str(row.A1),
                     str(row.A2), f"{row.A1Frq:.6f}", f"{row.A1Effect:.8g}", f"{row.SE:.8g}",
                     f"{row.PIP:.6f}"]
            cells += [f"{v:.6f}" if isinstance(v, float) else str(v) for v in row[10:]]
            fh.write(" ".join(cells) + "\n")
    return table


def write_cov_res(result, path) -> pd.DataFrame:
    """Write ``.covRes`` (Covariate Mean SD); returns the table."""
    table = result.covariate_summary()
    with atomic_open(path) as fh:
        fh.write(f"{'Covariate':>20}{'Mean':>14}{'SD':>14}\n")
        for row in table.itertuples(index=False):
            fh.write(f"{row.Covariate:>20}{row.Mean:>14.6f}{row.SD:>14.6f}\n")
    return table


def write_par_samples(result, path) -> None:
    """Write ``.mcmcsamples.Par``: Chain, Iteration, then every monitored quantity."""
    names = result.parameter_names
    with atomic_open(path) as fh:
        fh.write(" ".join(["Chain", "Iteration", *names]) + "\n")
        for chain in result.chains:
            for i, iteration in enumerate(chain.iterations):
                values = " ".join(f"{chain.traces[n][i]:.8g}" for n in names)
                fh.write(f"{chain.chain} {iteration} {values}\n")


def write_snp_effect_samples(result, path) -> None:
    """Write ``.mcmcsamples.SnpEffects``: the non-zero per-allele effects of each kept draw.

    Layout (little-endian): 8 bytes magic ``BMXSNPE1``; uint32 number of SNPs M; uint32
    number of records R. Then R records, each: uint32 chain, uint32 iteration (1-based),
    uint32 k (non-zero effects), k x uint32 SNP index (0-based, in ``.snpRes`` order, i.e.
    Id - 1), k x float32 per-allele effect of A1.
    """
    factor = result.per_allele_factor
    records = [(c.chain, it, idx, values) for c in result.chains for it, idx, values in c.snp_draws]
    with atomic_open(path, "wb") as fh:
        fh.write(SNP_EFFECTS_MAGIC)
        fh.write(struct.pack("<II", len(factor), len(records)))
        for chain, iteration, idx, values in records:
            fh.write(struct.pack("<III", chain, iteration, len(idx)))
            fh.write(np.asarray(idx, "<u4").tobytes())
            fh.write((np.asarray(values, np.float64) * factor[idx]).astype("<f4").tobytes())


def read_snp_effect_samples(path):
    """Read ``.mcmcsamples.SnpEffects`` -> (n_snps, list of (chain, iteration, idx, effects))."""
    with open(path, "rb") as fh:
        if fh.read(8) != SNP_EFFECTS_MAGIC:
            raise ValueError(f"{path}: not a bayesmix .mcmcsamples.SnpEffects file")
        n_snps, n_records = struct.unpack("<II", fh.read(8))
        records = []
        for _ in range(n_records):
            chain, iteration, k = struct.unpack("<III", fh.read(12))
            idx = np.frombuffer(fh.read(4 * k), "<u4").astype(np.int64)
            values = np.frombuffer(fh.read(4 * k), "<f4").astype(np.float64)
            records.append((chain, iteration, idx, values))
    return n_snps, records


def write_outputs(result, prefix, *, mcmc_bin: bool = True, netcdf: bool = True) -> list[str]:
    """Write every GCTB-format output (and the ArviZ netCDF ``PREFIX.nc``); returns the paths."""
    prefix = str(prefix)
    paths = [f"{prefix}.parRes", f"{prefix}.snpRes", f"{prefix}.covRes", f"{prefix}.mcmcsamples.Par"]
    write_par_res(result, paths[0])
    write_snp_res(result, paths[1])
    write_cov_res(result, paths[2])
    write_par_samples(result, paths[3])
    if mcmc_bin:
        paths.append(f"{prefix}.mcmcsamples.SnpEffects")
        write_snp_effect_samples(result, paths[-1])
    if netcdf:
        paths.append(f"{prefix}.nc")
        result.to_netcdf(paths[-1])
    return paths
