"""One call from genotypes to a simulated GWAS with its truth (what ``bayesmix simulate`` does).

:func:`simulate_gwas` draws effects from a prior, simulates the phenotype of the genotype
samples, and produces summary statistics either by marginal regression on those samples or,
with ``n_gwas``, drawn from LD as a GWAS of ``n_gwas`` people. Everything is returned as
Python objects (:class:`SimulatedGWAS`); files are written by the command line.

Scales: h2 on the standardised scale (phenotype variance 1). With the marginal regression the
effects are rescaled so the genetic values have sample variance exactly h2; with ``n_gwas``
they are rescaled so b'Rb = h2 for the LD R used (the phenotype then keeps those effects).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.simulate.effects import (BAYESN_DEFAULT_WINDOW_KB, Effects, draw_effects,
                                       window_ids)
from bayesmix.simulate.phenotype import Phenotypes, ascertain, simulate_phenotypes

#: Sum of clipped negative eigenvalues above which an LD matrix is reported as not PSD
#: (float32 rounding of a PSD matrix clips about -1e-5).
CLIP_WARNING = -1e-3


@dataclass
class SimulatedGWAS:
    """A simulated trait (one, or two for ``mixer2``) and its GWAS, with the truth.

    Attributes
    ----------
    effects : the effects actually behind the data (after rescaling).
    phenotypes : phenotypes of the genotype samples.
    sumstats : one canonical summary-statistics table per trait (:mod:`bayesmix.io.sumstats`).
    gwas : how the summary statistics were made (kind, N, LD, rho0, ...; drawn from LD,
        ``ld_note`` says what that LD is to a model fitted with it: :func:`ld_in_sample_note`).
    """

    effects: Effects
    phenotypes: Phenotypes
    sumstats: list[pd.DataFrame]
    gwas: dict = field(default_factory=dict)


def simulate_gwas(genotypes, prior: str, h2, *, rng: np.random.Generator, n_gwas=None,
                  ld=None, ld_block_size: int = 200, residual_corr: float = 0.0,
                  prevalence=None, case_control=None, n_overlap: float = 0.0,
                  progress: bool = False, **prior_params) -> SimulatedGWAS:
    """Effects, phenotypes and summary statistics on ``genotypes``.

    Parameters
    ----------
    genotypes : :class:`~bayesmix.io.plink.Genotypes`.
    prior, prior_params : see :func:`bayesmix.simulate.effects.draw_effects`. For the nested
        priors N/NS the windows come from the SNP positions (``window_kb``, default 1 Mb)
        unless ``windows`` is given.
    h2 : heritability (a pair for ``mixer2``).
    n_gwas : None for the marginal regression on the genotype samples; else the GWAS sample
        size (a pair for two traits) of summary statistics drawn from LD.
    ld : with ``n_gwas``, the LD matrix R over ``genotypes.snps`` in order (an object with
        ``.snps``, e.g. an LDMatrix, has its SNP ids and A1 alleles checked); None uses the
        block-diagonal LD of consecutive ``ld_block_size`` SNPs, built block by block.
    residual_corr : correlation of the two traits' residuals.
    prevalence : binary trait(s) by liability threshold (not with ``n_gwas``).
    case_control : (n_cases, n_controls) to sample from the binary trait (GCTA
        ``--simu-cc``); the others get a missing phenotype and stay out of the GWAS.
    n_overlap : with ``n_gwas`` and two traits, people shared by the two GWAS.
    """
    from bayesmix.simulate.gwas import marginal_gwas

    if case_control is not None and prevalence is None:
        raise InputError("case-control sampling needs a prevalence (a binary trait)")
    if n_gwas is not None and prevalence is not None:
        raise InputError("a prevalence simulates a binary trait on the genotype samples; "
                         "summary statistics from LD are for a quantitative trait: use one")
    nested = prior in ("N", "NS") and "windows" not in prior_params
    if nested:
        window_kb = prior_params.pop("window_kb", None) or BAYESN_DEFAULT_WINDOW_KB
        prior_params["windows"] = window_ids(genotypes.snps["chr"], genotypes.snps["bp"],
                                             window_kb)
    effects = draw_effects(prior, genotypes.heterozygosity, h2, rng, **prior_params)
    if nested:
        effects.params["window_kb"] = window_kb
    h2 = np.broadcast_to(np.asarray(h2, dtype=np.float64), (effects.n_traits,))
    if n_gwas is None:
        pheno = simulate_phenotypes(genotypes, effects, h2, rng=rng, residual_corr=residual_corr,
                                    prevalence=prevalence)
        if case_control is not None:
            pheno = ascertain(pheno, *case_control, rng=rng)
        tables = marginal_gwas(genotypes, pheno.y, progress=progress)
        info = {"kind": "marginal regression on the genotype samples", "n": genotypes.n_samples}
        return SimulatedGWAS(pheno.effects, pheno, tables, info)
    effects, tables, info = _sumstats_from_ld(genotypes, effects, h2, rng, n_gwas, ld,
                                              ld_block_size, residual_corr, n_overlap, progress)
    pheno = simulate_phenotypes(genotypes, effects, h2, rng=rng, rescale=False,
                                residual_corr=residual_corr)
    return SimulatedGWAS(effects, pheno, tables, info)


def _sumstats_from_ld(genotypes, effects, h2, rng, n_gwas, ld, block_size, residual_corr,
                      n_overlap, progress):
    """Effects rescaled so b'Rb = h2, and z = sqrt(N) R b + e tables per trait."""
    import logging

    from bayesmix.simulate.from_ld import (MAX_NOISE_BLOCK, LDSampler,
                                           draw_from_genotype_blocks, overlap_rho0,
                                           sumstats_table)

    n_traits = effects.n_traits
    n_gwas = np.atleast_1d(np.asarray(n_gwas, dtype=np.float64))
    if len(n_gwas) not in (1, n_traits) or not (n_gwas > 0).all():
        raise InputError(f"the GWAS sample size needs 1 or {n_traits} positive value(s)")
    n_gwas = np.broadcast_to(n_gwas, (n_traits,))
    if ld is None:
        draw = draw_from_genotype_blocks(genotypes, effects.b_std, rng=rng,
                                         block_size=block_size, progress=progress)
        ld_label = f"block-diagonal, {block_size} SNPs"
    else:
        check_ld_snps(ld, genotypes)
        sampler = LDSampler(ld)
        draw = sampler.draw(effects.b_std, rng)
        ld_label = "given"
        if sampler.n_cut:
            logging.getLogger("bayesmix").info(
                "noise drawn in LD pieces of at most %d SNPs: %d LD component(s) larger than "
                "that were cut (noise correlation between pieces dropped)", MAX_NOISE_BLOCK,
                sampler.n_cut)
    if draw.clipped < CLIP_WARNING:
        logging.getLogger("bayesmix").warning(
            "the LD matrix is not positive semi-definite: clipped negative eigenvalues summing "
            "to %.3g", draw.clipped)
    var_g = np.diag(draw.genetic_cov)
    if (var_g <= 0).any():
        raise InputError("the drawn effects explain no variance: raise pi / n_causal")
    factor = np.sqrt(h2 / var_g)
    effects = effects.scaled(factor if n_traits > 1 else factor[0])
    info = {"kind": "drawn from LD: z = sqrt(N) R b + e, e ~ N(0, R)", "n": n_gwas.tolist(),
            "ld": ld_label, "ld_clipped_eigenvalues": draw.clipped,
            "ld_note": ld_in_sample_note(ld is not None, block_size)}
    rho0 = 0.0
    if n_traits == 2:
        genetic_cov = float(draw.genetic_cov[0, 1] * factor[0] * factor[1])
        phenotype_corr = genetic_cov + residual_corr * np.sqrt((1 - h2[0]) * (1 - h2[1]))
        rho0 = overlap_rho0(n_gwas[0], n_gwas[1], n_overlap, phenotype_corr)
        info.update(n_overlap=n_overlap, genetic_cov=genetic_cov,
                    phenotype_corr=phenotype_corr, rho0=rho0)
    z = draw.zscores(n_gwas if n_traits == 2 else n_gwas[0], scale=factor, rho0=rho0)
    tables = [sumstats_table(z[:, t], n_gwas[t], genotypes.snps) for t in range(n_traits)]
    return effects, tables, info


def ld_in_sample_note(saved_ld: bool, block_size: int) -> str:
    """What the LD of statistics drawn from LD means for a model fitted to them (one line, for
    the log and the truth file).

    Statistics drawn as z = sqrt(N) R b + e, e ~ N(0, R), lie in the range of R exactly as a
    GWAS of the LD panel's own people would: to SBayes fitted with the same R this is
    *in-sample* LD, although N differs from the LD panel size. SBayes guesses in-sample LD only
    when the GWAS N matches the panel size, so the fit must be told (``--ld-in-sample``);
    treated as an independent reference (the LD sampling-variance correction of
    docs/sbayes.md) the same statistics gave hsq 19-43% too low on the shipped chr22 data.
    ``saved_ld``: drawn from a saved matrix (``--ld``), else from the block-diagonal LD of
    consecutive ``block_size`` SNPs of the genotypes.
    """
    if saved_ld:
        return ("the statistics are drawn from this LD matrix itself: fitted with the same "
                "matrix it is in-sample LD although N differs from its panel size, so give "
                "SBayes --ld-in-sample (prepare_summary_data(..., ld_in_sample=True)); "
                "otherwise it is taken for an independent reference and hsq comes out too low; "
                "MiXeR fits likewise need --ld-in-sample (MixerData.from_ld(..., "
                "ld_in_sample=True)), or they calibrate the weak-LD sums this draw used as "
                "the truth")
    return (f"the statistics follow the block-diagonal LD of blocks of {block_size} SNPs of "
            "these genotypes, which no saved LD matrix reproduces: to fit them with SBayes "
            "and --ld-in-sample, draw them from a saved matrix instead (--ld)")


def check_ld_snps(ld, genotypes, path=None) -> None:
    """An LD matrix with a SNP table must list the genotype SNPs, in order, with the same A1.

    ``path`` (the LD matrix's location) is named in the error."""
    snps = getattr(ld, "snps", None)
    if snps is None:
        return
    if len(snps) != genotypes.n_snps or (snps["snp"].to_numpy() != genotypes.snps["snp"].to_numpy()).any():
        raise InputError("the LD matrix's SNPs differ from the genotypes' (ids or order): build "
                         "it from the same fileset or subset it first", path)
    if (snps["a1"].to_numpy() != genotypes.snps["a1"].to_numpy()).any():
        raise InputError("the LD matrix counts other A1 alleles than the genotypes: build it "
                         "from the same fileset", path)
