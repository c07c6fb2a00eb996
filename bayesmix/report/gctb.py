"""GCTB-format output files, written atomically from a :class:`ChainsResult`.

Layouts as GCTB 2.05 writes them (``MCMC::printSummary``, ``Data::outputSnpResults``,
``Data::outputFixedEffects``, ``McmcSamples::initBinFile`` / ``getSample`` and
``MCMC::collectSamples``; GCTB <= 2.04 named the sample files ``OUT.mcmcsamples.SnpEffects``
and ``OUT.mcmcsamples.Par``, which are the names used here). Whitespace-separated text is
written with more digits than GCTB's fixed 6 decimals where that loses precision.

- ``PREFIX.parRes``: a header line ``Mean SD`` (GCTB writes no title line into the file; it
  prints "Posterior statistics from MCMC samples:" only to the screen), then one row per
  monitored quantity: name, posterior mean and SD over the kept draws of every chain (SD with
  1/(n-1); GCTB divides by n, a relative difference of 1/(2n)). bayesmix appends ``ESS_bulk`` and, with more than one chain,
  ``R_hat`` (ArviZ); :func:`format_par_res` gives the same text for the screen.
- ``PREFIX.snpRes``: ``Id Name Chrom Position A1 A2 A1Frq A1Effect SE PIP LastSampleEff``
  (+ ``Window``, 1-based, for BayesN/NS). A1Effect and SE are the posterior mean and SD of the
  per-allele effect of A1 (standardised effects divided by sqrt(2pq), as GCTB does);
  LastSampleEff is the per-allele effect of the last kept draw of the first chain (``NA``
  when per-SNP draws were not kept, ``--no-mcmc-bin``). Component probabilities (BayesR) are
  in ``PREFIX.nc`` and :meth:`ChainsResult.snp_summary`, not here: GCTB has no such columns.
- ``PREFIX.covRes``: no header; one row per fixed effect (intercept first): name, posterior
  mean, SD. Not written without fixed effects (summary-data models).
- ``PREFIX.mcmcsamples.Par``: a header of the monitored names, then one row per kept draw
  of the first chain. GCTB writes one row per iteration, burn-in included; bayesmix keeps only
  the thinned post-burn-in draws (every ``--thin``-th iteration after ``--burn-in``).
- ``PREFIX.mcmcsamples.SnpEffects``: binary, little-endian (:func:`write_snp_effect_samples`):
  three uint32 (rows = chain length // thin, columns = number of SNPs, number of records), then
  one 12-byte record per non-zero effect of a kept draw: uint32 row (= iteration / thin - 1,
  so post-burn-in rows sit where GCTB puts them and burn-in rows are empty), uint32 SNP
  (0-based, ``.snpRes`` Id - 1), float32 effect on GCTB's genotype scale (per-allele effect
  x sqrt(2pq), or per allele with unscaled genotypes). GCTB writes the first chain only;
  bayesmix writes chain c > 0 of a multi-chain run to ``PREFIX.chainc.mcmcsamples.*``.
- ``PREFIX.log`` is written by the command line (the same lines it prints).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bayesmix.io.files import atomic_open

UNSCALED_METHODS = ("S", "NS")
"""Models whose effects GCTB samples on unscaled (per-allele) genotypes (bayesmix too)."""


def par_res_table(result) -> pd.DataFrame:
    """``Parameter Mean SD ESS_bulk [R_hat]`` (:meth:`ChainsResult.diagnostics`: pooled over
    chains, SD with 1/(n-1) where GCTB divides by n); R_hat only with more than one chain."""
    columns = ["Parameter", "Mean", "SD", "ESS_bulk"] + (["R_hat"] if len(result.chains) > 1
                                                          else [])
    return result.diagnostics()[columns]


def format_par_res(result, *, table: pd.DataFrame | None = None) -> str:
    """The ``.parRes`` text (also for the screen, after "Posterior statistics from MCMC
    samples:"): GCTB's ``Mean SD`` table plus bayesmix's ESS / R-hat columns. ``table``:
    ``result``'s :func:`par_res_table` when the caller has it already (it computes the ESS
    of every monitored quantity)."""
    return _format_par_table(par_res_table(result) if table is None else table)


def _format_par_table(table: pd.DataFrame) -> str:
    extra = [c for c in ("ESS_bulk", "R_hat") if c in table]
    lines = [f"{'':>13} {'Mean':<15} {'SD':<15}" + "".join(f" {c:<10}" for c in extra)]
    for row in table.to_dict("records"):
        cells = "".join(f" {_number(row[c], '.1f' if c == 'ESS_bulk' else '.4f'):<10}"
                        for c in extra)
        lines.append(f"{row['Parameter']:>10} {'':2} {_number(row['Mean'], '.6f'):<15} "
                     f"{_number(row['SD'], '.6f'):<15}{cells}")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def write_par_res(result, path, *, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Write ``.parRes`` (:func:`format_par_res`, ``table`` as there); returns
    :func:`par_res_table`."""
    table = par_res_table(result) if table is None else table
    with atomic_open(path) as fh:
        fh.write(_format_par_table(table))
    return table


def snp_res_table(result) -> pd.DataFrame:
    """The ``.snpRes`` table: GCTB's columns (+ Window for BayesN/NS)."""
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
        "LastSampleEff": _last_sample(result),
    })
    if "Window" in summary:
        table["Window"] = summary["Window"].to_numpy()
    return table


def _last_sample(result) -> np.ndarray:
    """Per-allele effects of the last kept draw of the first chain (NaN if not kept)."""
    draws = result.chains[0].snp_draws
    last = np.full(len(result.per_allele_factor), np.nan)
    if draws:
        _, idx, values = draws[-1]
        last[:] = 0.0
        last[idx] = np.asarray(values, np.float64) * result.per_allele_factor[idx]
    return last


#: the number format of each float column of ``.snpRes`` (the others are written as text)
SNP_RES_FORMATS = {"A1Frq": ".6f", "A1Effect": ".8g", "SE": ".8g", "PIP": ".6f",
                   "LastSampleEff": ".8g"}


def write_snp_res(result, path) -> pd.DataFrame:
    """Write ``.snpRes``; returns the table. Each line is one %-format of the row's values
    from the columns as lists (1.1M SNPs: 2.0 s, against 3.3 s formatting value by value and
    9 s for a pandas row loop); ``LastSampleEff`` is ``NA`` where no draw was kept."""
    table = snp_res_table(result)
    columns, fields = [], []
    for name in table.columns:
        values = table[name].tolist()
        spec = SNP_RES_FORMATS.get(name)
        if name == "LastSampleEff":  # NA or the number: text before the row format
            values = [_number(v, spec) for v in values]
            spec = None
        columns.append(values)
        fields.append("%s" if spec is None else f"%{spec}")
    line = " ".join(fields) + "\n"
    with atomic_open(path) as fh:
        fh.write(" ".join(table.columns) + "\n")
        fh.writelines([line % row for row in zip(*columns)])
    return table


def write_cov_res(result, path) -> pd.DataFrame:
    """Write ``.covRes`` in GCTB's layout (no header: name, mean, SD); returns the table."""
    table = result.covariate_summary()
    with atomic_open(path) as fh:
        for row in table.itertuples(index=False):
            fh.write(f"{row.Covariate:>20} {_number(row.Mean, '12.6f')} "
                     f"{_number(row.SD, '12.6f')}\n")
    return table


def write_par_samples(result, path, *, chain: int = 0) -> None:
    """Write ``.mcmcsamples.Par`` of one chain: a header of the monitored names, one row per
    kept draw (values with 8 significant digits)."""
    names = result.parameter_names
    traces = result.chains[chain].traces
    with atomic_open(path) as fh:
        fh.write(" ".join(f"{name:>12}" for name in names) + "\n")
        for i in range(len(result.chains[chain].iterations)):
            fh.write(" ".join(f"{traces[name][i]:>12.8g}" for name in names) + "\n")


def gctb_effect_factor(result, *, unscaled: bool = False) -> np.ndarray:
    """(M,) factor from effects on the model's X scale to GCTB's sampled scale: the per-allele
    effect times sqrt(2pq) (A1Frq of ``.snpRes``), or the per-allele effect when genotypes were
    unscaled (``unscaled``, and always for BayesS/NS)."""
    factor = np.asarray(result.per_allele_factor, np.float64)
    if unscaled or result.method in UNSCALED_METHODS:
        return factor
    freq = np.asarray(result.freq, np.float64)
    return factor * np.sqrt(2.0 * freq * (1.0 - freq))


def write_snp_effect_samples(result, path, *, chain: int = 0, unscaled: bool = False) -> None:
    """Write ``.mcmcsamples.SnpEffects`` of one chain in GCTB's binary layout (module
    docstring): header uint32 (chain length // thin, M, records), then records
    (uint32 row, uint32 SNP, float32 effect on GCTB's scale, :func:`gctb_effect_factor`)."""
    settings = result.settings
    factor = gctb_effect_factor(result, unscaled=unscaled)
    draws = result.chains[chain].snp_draws
    counts = [len(idx) for _, idx, _ in draws]
    records = np.zeros(sum(counts), dtype=[("row", "<u4"), ("snp", "<u4"), ("value", "<f4")])
    if draws:
        records["row"] = np.repeat([it // settings.thin - 1 for it, _, _ in draws], counts)
        idx = np.concatenate([np.asarray(i, np.int64) for _, i, _ in draws])
        values = np.concatenate([np.asarray(v, np.float64) for _, _, v in draws])
        records["snp"] = idx
        records["value"] = values * factor[idx]
    header = np.array([settings.chain_length // settings.thin, len(factor), len(records)], "<u4")
    with atomic_open(path, "wb") as fh:
        fh.write(header.tobytes())
        fh.write(records.tobytes())


def read_snp_effect_samples(path):
    """Read a ``.mcmcsamples.SnpEffects`` file (GCTB's or ours) -> scipy CSR matrix (rows x
    SNPs, float32), row = iteration / thin - 1 (GCTB: 0-based iteration / thin)."""
    import scipy.sparse as sp

    raw = np.fromfile(path, dtype=np.uint8)
    if len(raw) < 12 or len(raw) % 12:
        raise ValueError(f"{path}: not a .mcmcsamples.SnpEffects file (size {len(raw)} bytes "
                         "is not 12 + 12 x records)")
    n_rows, n_snps, _ = raw[:12].view("<u4")
    records = raw[12:].view([("row", "<u4"), ("snp", "<u4"), ("value", "<f4")])
    return sp.csr_matrix((records["value"], (records["row"], records["snp"])),
                         shape=(int(n_rows), int(n_snps)), dtype=np.float32)


def _number(value, spec: str) -> str:
    return "NA" if not math.isfinite(value) else format(value, spec)


def write_outputs(result, prefix, *, mcmc_bin: bool = True, netcdf: bool = True,
                  unscaled: bool = False, par_res: pd.DataFrame | None = None) -> list[str]:
    """Write every GCTB-format output (and the ArviZ netCDF ``PREFIX.nc``); returns the paths.

    ``unscaled``: the model used unscaled genotypes (``--unscale-genotype``; implied for
    BayesS/NS), which sets the scale of ``.mcmcsamples.SnpEffects``. ``.covRes`` is written
    only when there are fixed effects; chains after the first get their own sample files.
    ``par_res``: ``result``'s :func:`par_res_table` when the caller has it already (e.g.
    shown on the screen), so that it is not computed again.
    """
    prefix = str(prefix)
    paths = [f"{prefix}.parRes", f"{prefix}.snpRes"]
    write_par_res(result, paths[0], table=par_res)
    write_snp_res(result, paths[1])
    if result.design_columns:
        paths.append(f"{prefix}.covRes")
        write_cov_res(result, paths[-1])
    for k, chain in enumerate(result.chains):
        stem = prefix if k == 0 else f"{prefix}.chain{chain.chain}"
        paths.append(f"{stem}.mcmcsamples.Par")
        write_par_samples(result, paths[-1], chain=k)
        if mcmc_bin:
            paths.append(f"{stem}.mcmcsamples.SnpEffects")
            write_snp_effect_samples(result, paths[-1], chain=k, unscaled=unscaled)
    if netcdf:
        paths.append(f"{prefix}.nc")
        result.to_netcdf(paths[-1])
    return paths
