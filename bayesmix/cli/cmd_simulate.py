"""``bayesmix simulate``: effects from a prior, a phenotype on a PLINK fileset's samples, GWAS
summary statistics and the truth.

Outputs (one trait): ``OUT.phen`` (GCTA: FID IID y), ``OUT.ma`` (GCTB/COJO),
``OUT.sumstats.gz`` (LDSC/MiXeR) and ``OUT.truth.json``. Two traits (``--prior mixer2``):
``OUT.phen`` has two phenotype columns and the summary statistics are
``OUT.trait1.ma``/``OUT.trait2.ma`` and ``OUT.trait{1,2}.sumstats.gz``.
"""

from __future__ import annotations

HELP = "simulate effects, phenotypes and GWAS summary statistics (with the truth) on a PLINK fileset"

DESCRIPTION = """\
Draw causal effects from a prior (BayesC/R/S/B, MiXeR univariate, or MiXeR bivariate
'mixer2'), scaled to a target heritability h2 (standardised scale, phenotype variance 1);
simulate the phenotype y = g + e of the --bfile samples; and write GWAS summary statistics.

Without --n-gwas the GWAS is the marginal linear regression of y on each SNP over the
--bfile samples (as plink --linear; the effects are rescaled so the sample variance of g is
exactly h2). With --n-gwas N the summary statistics are instead drawn from the LD of the
--bfile genotypes as a GWAS of N individuals: z = sqrt(N) R b + e with e ~ N(0, R), R the
block-diagonal LD of consecutive --ld-block-size SNPs (or a saved LD matrix, --ld), effects
rescaled so b'Rb = h2; the phenotype file is still written for the --bfile samples.

Outputs: OUT.phen (GCTA: FID IID y [y2]), OUT.ma and OUT.sumstats.gz (two traits:
OUT.trait1.ma, OUT.trait2.ma, ...), OUT.truth.json (prior, parameters, seed, h2, and every
causal SNP with its per-allele effect beta and standardised effect b_std = beta sqrt(2p(1-p))).
"""


def add_arguments(parser) -> None:
    import argparse

    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--bfile", required=True, metavar="PREFIX", help="PLINK 1 fileset")
    parser.add_argument("--prior", required=True, choices=["C", "R", "S", "B", "mixer", "mixer2"],
                        help="effect-size prior: BayesC, BayesR, BayesS, BayesB, MiXeR, or the "
                             "bivariate MiXeR prior (two traits)")
    parser.add_argument("--h2", required=True, type=float, nargs="+", metavar="H",
                        help="heritability in (0, 1); two values with --prior mixer2")
    causal = parser.add_mutually_exclusive_group()
    causal.add_argument("--n-causal", type=int, nargs="+", metavar="K",
                        help="number of causal SNPs (mixer2: three counts, trait-1 only, "
                             "trait-2 only, shared)")
    causal.add_argument("--pi", type=float, metavar="P",
                        help="causal fraction (each polymorphic SNP causal with probability P)")
    parser.add_argument("--S", type=float, default=None, metavar="s",
                        help="BayesS: per-allele effect variance proportional to (2p(1-p))^S "
                             "(default -0.5)")
    parser.add_argument("--pi-k", type=float, nargs="+", default=None, metavar="PI",
                        help="BayesR mixture weights (default 0.95 0.02 0.02 0.01)")
    parser.add_argument("--gamma", type=float, nargs="+", default=None, metavar="G",
                        help="BayesR relative variances (default 0 0.01 0.1 1)")
    parser.add_argument("--nu", type=float, default=None,
                        help="BayesB: degrees of freedom of the t slab (default 4)")
    parser.add_argument("--pi1", type=float, help="mixer2: fraction causal for trait 1 only")
    parser.add_argument("--pi2", type=float, help="mixer2: fraction causal for trait 2 only")
    parser.add_argument("--pi12", type=float, help="mixer2: fraction causal for both traits")
    parser.add_argument("--rho12", type=float, default=0.0,
                        help="mixer2: correlation of the shared effects (default 0)")
    parser.add_argument("--residual-corr", type=float, default=0.0,
                        help="mixer2: correlation of the two traits' residuals (default 0)")
    parser.add_argument("--prevalence", type=float, default=None, metavar="K",
                        help="binary trait: liability threshold with population prevalence K; "
                             "the .phen holds 1 = case, 0 = control and the GWAS is a linear "
                             "regression on that 0/1 trait (not with --n-gwas)")
    parser.add_argument("--n-gwas", type=float, nargs="+", default=None, metavar="N",
                        help="draw the summary statistics from LD as a GWAS of N people "
                             "(mixer2: one or two values) instead of regressing on the "
                             "--bfile samples")
    parser.add_argument("--n-overlap", type=float, default=0.0, metavar="NS",
                        help="mixer2 with --n-gwas: people shared by the two GWAS (correlated "
                             "noise rho0 = NS / sqrt(N1 N2) * phenotypic correlation)")
    parser.add_argument("--ld-block-size", type=int, default=200, metavar="K",
                        help="--n-gwas: SNPs per block of the block-diagonal LD (default 200)")
    parser.add_argument("--ld", default=None, metavar="DIR",
                        help="--n-gwas: a saved LD matrix (bayesmix LD folder) to use as R")
    parser.add_argument("--maf", type=float, default=0.0, help="drop SNPs with MAF below this")
    parser.add_argument("--chr", default=None, help="use only this chromosome")
    parser.add_argument("--extract", default=None, metavar="FILE", help="SNPs to use")
    parser.add_argument("--keep", default=None, metavar="FILE", help="samples to use (FID IID)")
    parser.add_argument("--seed", type=int, default=None, metavar="S",
                        help="random seed (default: fresh entropy, recorded in the truth)")
    parser.add_argument("--out", required=True, metavar="OUT", help="output prefix")


def run(args) -> int:
    import json
    import logging
    import sys

    import numpy as np

    from bayesmix.errors import InputError
    from bayesmix.io.files import atomic_open
    from bayesmix.io.plink import Genotypes
    from bayesmix.io.sumstats import write_ma, write_sumstats
    from bayesmix.simulate.effects import draw_effects
    from bayesmix.simulate.gwas import marginal_gwas
    from bayesmix.simulate.phenotype import simulate_phenotypes, write_phen

    log = logging.getLogger("bayesmix")
    bivariate = args.prior == "mixer2"
    n_traits = 2 if bivariate else 1
    h2 = _check_h2(args.h2, n_traits)
    if args.n_gwas is not None and args.prevalence is not None:
        raise InputError("--prevalence simulates a binary trait on the --bfile samples; "
                         "--n-gwas draws z-scores of a quantitative trait: use one of them")
    seed = args.seed if args.seed is not None else int(np.random.SeedSequence().entropy % 2**63)
    rng = np.random.default_rng(seed)

    ld_store = None
    extract = args.extract
    if args.ld is not None:
        from bayesmix.ld import LDMatrix

        ld_store = LDMatrix.load(args.ld)
        wanted = set(ld_store.snps["snp"])
        if extract is not None:
            from bayesmix.io.plink import read_snp_list

            wanted &= read_snp_list(extract)
        extract = wanted
    genotypes = Genotypes.open(args.bfile, keep=args.keep, extract=extract, chrom=args.chr,
                               maf=args.maf)
    for reason, count in genotypes.filter_counts.items():
        if count:
            log.info("dropped %d %s", count, reason)
    log.info("%d samples, %d SNPs from %s", genotypes.n_samples, genotypes.n_snps, args.bfile)

    effects = draw_effects(args.prior, genotypes.heterozygosity, h2 if bivariate else h2[0], rng,
                           **_prior_params(args, InputError))
    log.info("prior %s: %d causal SNPs", args.prior, len(effects.causal))

    summary = {"seed": seed, "command": " ".join(sys.argv), "bfile": str(args.bfile),
               "n_samples": genotypes.n_samples,
               "h2": h2.tolist() if bivariate else float(h2[0])}
    if args.n_gwas is None:
        pheno = simulate_phenotypes(genotypes, effects, h2, rng=rng,
                                    residual_corr=args.residual_corr, prevalence=args.prevalence)
        effects = pheno.effects
        log.info("GWAS: marginal regression on %d samples", genotypes.n_samples)
        tables = marginal_gwas(genotypes, pheno.y, progress=sys.stderr.isatty())
        summary["gwas"] = {"kind": "marginal regression on the --bfile samples",
                           "n": genotypes.n_samples}
    else:
        effects, tables, gwas_info = _gwas_from_ld(args, genotypes, ld_store, effects, h2, rng,
                                                   InputError)
        pheno = simulate_phenotypes(genotypes, effects, h2, rng=rng, rescale=False,
                                    residual_corr=args.residual_corr)
        summary["gwas"] = gwas_info
    summary["h2_sample"] = pheno.h2_sample.tolist()
    if args.prevalence is not None:
        summary["prevalence"] = args.prevalence
        summary["case_fraction"] = pheno.y.mean(axis=0).tolist()

    out = args.out
    written = [f"{out}.phen"]
    write_phen(f"{out}.phen", pheno.samples, pheno.y)
    for t, table in enumerate(tables):
        stem = f"{out}.trait{t + 1}" if bivariate else out
        write_ma(table, f"{stem}.ma")
        write_sumstats(table, f"{stem}.sumstats.gz")
        written += [f"{stem}.ma", f"{stem}.sumstats.gz"]
    truth = {**effects.truth(genotypes.snps), **summary, "files": written + [f"{out}.truth.json"]}
    with atomic_open(f"{out}.truth.json", "wt") as fh:
        # one line per top-level key: readable, and long per-SNP lists stay compact
        fh.write("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}"
                                      for k, v in truth.items()) + "\n}\n")
    log.info("wrote %s and %s.truth.json", ", ".join(written), out)
    return 0


def _check_h2(values, n_traits):
    """--h2 as an array, one value per trait (the range is checked by the prior)."""
    import numpy as np

    from bayesmix.errors import InputError

    if len(values) != n_traits:
        raise InputError(f"--h2 needs {n_traits} value(s) for this prior, got {len(values)}")
    return np.asarray(values, dtype=np.float64)


def _prior_params(args, error) -> dict:
    """Keyword arguments of the prior's effect function from the command line."""
    specific = {"S": ["S"], "R": ["pi_k", "gamma"], "B": ["nu"],
                "mixer2": ["pi1", "pi2", "pi12"]}
    for prior, names in specific.items():
        for name in names:
            if getattr(args, name) is not None and args.prior != prior:
                raise error(f"--{name.replace('_', '-')} applies to --prior {prior} only")
    if args.prior == "mixer2":
        if args.pi is not None:
            raise error("--prior mixer2 takes --pi1 --pi2 --pi12 (or --n-causal K1 K2 K12), "
                        "not --pi")
        params = {"pi1": args.pi1, "pi2": args.pi2, "pi12": args.pi12, "rho12": args.rho12}
        if args.n_causal is not None:
            if len(args.n_causal) != 3:
                raise error("--prior mixer2 needs --n-causal K1 K2 K12 (three counts)")
            params["n_causal"] = tuple(args.n_causal)
        elif all(params[k] is None for k in ("pi1", "pi2", "pi12")):
            raise error("--prior mixer2 needs --pi1/--pi2/--pi12 or --n-causal K1 K2 K12")
        return params
    if args.n_causal is not None and len(args.n_causal) != 1:
        raise error("--n-causal takes one count for this prior")
    params = {"pi": args.pi, "n_causal": None if args.n_causal is None else args.n_causal[0]}
    if args.prior == "R":
        params.update(pi_k=args.pi_k, gamma=args.gamma)
    elif params["pi"] is None and params["n_causal"] is None:
        raise error(f"--prior {args.prior} needs --n-causal K or --pi P")
    if args.prior == "S" and args.S is not None:
        params["S"] = args.S
    if args.prior == "B" and args.nu is not None:
        params["nu"] = args.nu
    return params


def _gwas_from_ld(args, genotypes, ld_store, effects, h2, rng, error):
    """Summary statistics drawn from LD for --n-gwas; effects rescaled so b'Rb = h2."""
    import logging
    import sys

    import numpy as np

    from bayesmix.simulate.from_ld import (LDSampler, draw_from_genotype_blocks, overlap_rho0,
                                           sumstats_table)

    log = logging.getLogger("bayesmix")
    n_traits = effects.n_traits
    n_gwas = np.asarray(args.n_gwas, dtype=np.float64)
    if len(n_gwas) not in (1, n_traits) or (n_gwas <= 0).any():
        raise error(f"--n-gwas needs 1 or {n_traits} positive sample size(s)")
    n_gwas = np.broadcast_to(n_gwas, (n_traits,))
    if ld_store is not None:
        if len(ld_store.snps) != genotypes.n_snps:
            ld_store = ld_store.subset(genotypes.snps["snp"])
        same = (ld_store.snps["snp"].to_numpy() == genotypes.snps["snp"].to_numpy()).all()
        if not same or (ld_store.snps["a1"].to_numpy() != genotypes.snps["a1"].to_numpy()).any():
            raise error("the LD matrix's SNPs or A1 alleles differ from the --bfile's: build it "
                        "from the same fileset", args.ld)
        log.info("LD: %s (%d SNPs)", args.ld, genotypes.n_snps)
        draw = LDSampler(ld_store).draw(effects.b_std, rng)
    else:
        log.info("LD: block-diagonal, %d SNPs per block", args.ld_block_size)
        draw = draw_from_genotype_blocks(genotypes, effects.b_std, rng=rng,
                                         block_size=args.ld_block_size,
                                         progress=sys.stderr.isatty())
    if draw.clipped < -1e-3:  # float32 rounding alone clips about -1e-5
        log.warning("the LD matrix is not positive semi-definite: clipped negative eigenvalues "
                    "summing to %.3g", draw.clipped)
    var_g = np.diag(draw.genetic_cov)
    if (var_g <= 0).any():
        raise error("the drawn effects explain no variance: raise --pi / --n-causal")
    factor = np.sqrt(h2 / var_g)
    effects = effects.scaled(factor if n_traits > 1 else factor[0])
    rho0 = 0.0
    info = {"kind": "drawn from LD: z = sqrt(N) R b + e, e ~ N(0, R)",
            "n": n_gwas.tolist(), "ld": args.ld or f"block-diagonal, {args.ld_block_size} SNPs"}
    if n_traits == 2:
        genetic_cov = float(draw.genetic_cov[0, 1] * factor[0] * factor[1])
        phenotype_corr = genetic_cov + args.residual_corr * np.sqrt((1 - h2[0]) * (1 - h2[1]))
        rho0 = overlap_rho0(n_gwas[0], n_gwas[1], args.n_overlap, phenotype_corr)
        info.update(n_overlap=args.n_overlap, phenotype_corr=phenotype_corr, rho0=rho0,
                    genetic_cov=genetic_cov)
    z = draw.zscores(n_gwas if n_traits == 2 else n_gwas[0], scale=factor, rho0=rho0)
    tables = [sumstats_table(z[:, t], n_gwas[t], genotypes.snps) for t in range(n_traits)]
    return effects, tables, info
