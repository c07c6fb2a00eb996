"""``fit2`` / ``test2``: the bivariate MiXeR subcommands (polygenic overlap of two traits).

    bayesmix-mixer fit2 --trait1-file A.sumstats.gz --trait2-file B.sumstats.gz \\
        --trait1-params-file A.fit.json --trait2-params-file B.fit.json \\
        --ld-file P_chr@.ld --chr2use 1-22 --extract X.snps --out AB.fit
    bayesmix-mixer test2 --trait1-file A.sumstats.gz --trait2-file B.sumstats.gz \\
        --ld-file P_chr@.ld --chr2use 1-22 --load-params-file AB.fit.json --out AB.test

fit2 writes OUT.json (parameters, rg, Venn counts with SEs, AIC/BIC vs minimal/maximal
overlap, pi12 log-likelihood profile, fit trace). test2 writes OUT.json (conditional Q-Q
data), OUT.snps.tsv.gz (per tag SNP: z1, z2 and the posterior probabilities that its signal
comes from shared / trait-unique causal variants) and the figures OUT.venn, OUT.condqq,
OUT.density, OUT.profile (.png and .pdf). Inputs are loaded per trait as in fit1 and the
tag SNPs restricted to those present in both (pruning weights from trait 1's load).

:func:`add_subcommands` registers both on a subparsers object (``bayesmix-mixer`` and
``bayesmix mixer``).
"""

from __future__ import annotations

import logging

log = logging.getLogger("bayesmix")

#: MiXeR fit2 sequence tokens -> bayesmix steps
FIT2_SEQUENCE_ALIASES = {"diffevo-fast": "fast", "neldermead-fast": "fast", "diffevo": "fast",
                         "neldermead": "fast", "inflation": "infinitesimal",
                         "brute1": "full", "brent1": "full", "brute1-fast": "fast",
                         "brent1-fast": "fast"}
DEFAULT_FIT2_SEQUENCE = ["infinitesimal", "fast", "full"]


def add_subcommands(sub) -> None:
    """Add ``fit2`` and ``test2`` to an argparse subparsers object."""
    p = sub.add_parser("fit2", help="fit the bivariate model (polygenic overlap)")
    _add_common(p, fit=True)
    p.set_defaults(_run=run_fit2)
    p = sub.add_parser("test2", help="Venn, conditional Q-Q, densities and shared-SNP "
                                     "posteriors of a bivariate fit")
    _add_common(p, fit=False)
    p.set_defaults(_run=run_test2)


def _add_common(p, *, fit: bool) -> None:
    from bayesmix.cli.mixer import add_reference_options

    p.add_argument("--trait1-file", required=True, help="summary statistics of trait 1")
    p.add_argument("--trait2-file", required=True, help="summary statistics of trait 2")
    p.add_argument("--extract", help="SNP list of tag SNPs to use")
    add_reference_options(p)
    if fit:
        p.add_argument("--trait1-params-file", required=True,
                       help="univariate fit JSON of trait 1 (fit1 or MiXeR)")
        p.add_argument("--trait2-params-file", required=True,
                       help="univariate fit JSON of trait 2 (fit1 or MiXeR)")
        p.add_argument("--kmax", type=int, default=1000,
                       help="causal-set draws of the sampled 'full' step (1000)")
        p.add_argument("--fit-sequence", nargs="+", default=DEFAULT_FIT2_SEQUENCE,
                       help="steps: infinitesimal fast full (default all three); MiXeR "
                            "names (diffevo-fast, neldermead-fast, brute1, brent1) are mapped")
        p.add_argument("--n-draws", type=int, default=1000,
                       help="draws for SEs of derived quantities (1000)")
        p.add_argument("--profile-points", type=int, default=25,
                       help="points of the pi12 log-likelihood profile (25; 0 = none)")
    else:
        p.add_argument("--load-params-file", required=True, help="fit JSON of fit2")


def normalise_fit2_sequence(tokens) -> list[str]:
    """MiXeR fit2 sequence names -> bayesmix steps, duplicates removed, order kept."""
    out = []
    for token in tokens:
        step = FIT2_SEQUENCE_ALIASES.get(token, token)
        if step not in out:
            out.append(step)
    return out


def _load(args):
    from bayesmix.prepare.mixer import load_bivariate_data, parse_chromosomes

    return load_bivariate_data(
        (args.trait1_file, args.trait2_file), args.ld_file, parse_chromosomes(args.chr2use),
        bim_template=args.bim_file, extract=getattr(args, "extract", None), exclude=args.exclude,
        exclude_ranges=args.exclude_ranges, randprune_n=args.randprune_n,
        randprune_r2=args.randprune_r2, seed=args.seed)


def run_fit2(args) -> int:
    from bayesmix.cli.mixer import set_threads
    from bayesmix.inference.mle_bivariate import fit_bivariate, profile_pi12
    from bayesmix.report.mixer_bivariate_json import write_fit_json
    from bayesmix.report.mixer_json import read_params

    set_threads(args.threads)
    uni = [read_params(args.trait1_params_file), read_params(args.trait2_params_file)]
    data = _load(args)
    fit = fit_bivariate(data, uni[0], uni[1], sequence=normalise_fit2_sequence(args.fit_sequence),
                        kmax=args.kmax, seed=args.seed, n_draws=args.n_draws,
                        progress=log.info)
    extra = {"options": {k: v for k, v in vars(args).items() if not k.startswith("_")}}
    if args.profile_points > 0:
        import numpy as np

        extra["pi12_profile"] = profile_pi12(fit, data,
                                             np.linspace(0.02, 0.98, args.profile_points))
    write_fit_json(f"{args.out}.json", fit, trait_names=(args.trait1_file, args.trait2_file),
                   extra=extra)
    ci = fit.ci
    log.info("fit2: pi12=%.3g (share %.3f) rho12=%.3f rho0=%.3f rg=%.3f (SE %.3f); causal "
             "variants n1=%.0f n12=%.0f n2=%.0f; AIC best vs minimal %.2f, vs maximal %.2f",
             fit.params["pi12"], fit.share, fit.params["rho12"], fit.params["rho0"], fit.rg,
             ci["rg"]["std"], ci["nc1"]["point"], ci["nc12"]["point"], ci["nc2"]["point"],
             fit.criteria.get("best_vs_minimal_overlap_AIC", float("nan")),
             fit.criteria.get("best_vs_maximal_overlap_AIC", float("nan")))
    log.info("wrote %s.json", args.out)
    return 0


def run_test2(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from bayesmix.cli.mixer import set_threads
    from bayesmix.inference.mle_bivariate import fit_from_record, shared_posteriors
    from bayesmix.io.files import atomic_path
    from bayesmix.plots import bivariate as bplots
    from bayesmix.report.mixer_bivariate_json import read_fit_json
    from bayesmix.report.mixer_json import write_json

    set_threads(args.threads)
    record = read_fit_json(args.load_params_file)
    data = _load(args)
    fit = fit_from_record(record, data)
    post = shared_posteriors(fit, data)
    table = data.trait1.tags[["snp", "chr", "bp"]].copy()
    table["z1"], table["z2"] = data.trait1.z, data.trait2.z
    for key, value in post.items():
        table[key] = value
    with atomic_path(f"{args.out}.snps.tsv.gz") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g", compression="gzip")
    rng = np.random.default_rng(args.seed)
    qq = bplots.conditional_qq_data(data, fit, rng=rng)
    write_json(f"{args.out}.json", {"analysis": "bivariate-test", "params": record["params"],
                                    "venn": record.get("venn"), "conditional_qq": qq,
                                    "n_tags": data.n_tags,
                                    "n_shared_p90": int((post["p_shared"] >= 0.9).sum())})
    figures = {"venn": lambda ax: bplots.plot_venn(record["venn"]["total"], ax=ax),
               "condqq": lambda ax: bplots.plot_conditional_qq(data, fit, ax=ax, rng=rng),
               "density": None,
               "profile": (lambda ax: bplots.plot_pi12_profile(record["pi12_profile"],
                                                               fit=fit, ax=ax))
               if record.get("pi12_profile") else None}
    for name, draw in figures.items():
        if name == "density":
            fig, axes = plt.subplots(1, 3, figsize=(13, 4))
            bplots.plot_z_density(data, fit, axes=axes[:2], rng=rng)
            bplots.plot_beta_density(fit, ax=axes[2], rng=rng)
        elif draw is None:
            continue
        else:
            fig, ax = plt.subplots(figsize=(5, 4))
            draw(ax)
        for ext in ("png", "pdf"):
            with atomic_path(f"{args.out}.{name}.{ext}") as tmp:
                fig.savefig(tmp, format=ext, bbox_inches="tight")
        plt.close(fig)
    log.info("test2: %d of %d tag SNPs with P(shared) >= 0.9; wrote %s.json, %s.snps.tsv.gz "
             "and %s.{venn,condqq,density,profile}.{png,pdf}", int((post["p_shared"] >= 0.9)
                                                                  .sum()), data.n_tags,
             args.out, args.out, args.out)
    return 0


def add_native_arguments(parser) -> None:
    """Options of ``bayesmix mixer fit2|test2`` beyond the univariate ones (``--sumstats`` is
    trait 1, ``--params`` the trait-1 univariate JSON for fit2 or the fit2 JSON for test2)."""
    parser.add_argument("--sumstats2", help="fit2/test2: summary statistics of trait 2")
    parser.add_argument("--params2", help="fit2: univariate fit JSON of trait 2")


def run_native(args) -> int:
    """``bayesmix mixer fit2|test2``: translate the native options and run fit2/test2."""
    import argparse

    from bayesmix.errors import InputError

    if not args.sumstats2:
        raise InputError(f"mixer {args.action} needs --sumstats2 (trait 2)")
    if not args.params or (args.action == "fit2" and not args.params2):
        raise InputError("mixer fit2 needs --params (trait 1) and --params2 (trait 2) "
                         "univariate fit JSONs; mixer test2 needs --params FIT2.json")
    common = dict(trait1_file=args.sumstats, trait2_file=args.sumstats2, bim_file=None,
                  ld_file=args.ld, chr2use=args.chr, extract=args.extract,
                  exclude=args.exclude, exclude_ranges=args.exclude_ranges, out=args.out,
                  seed=args.seed, threads=args.threads, randprune_n=args.prune_passes,
                  randprune_r2=args.prune_r2)
    if args.action == "fit2":
        ns = argparse.Namespace(**common, trait1_params_file=args.params,
                                trait2_params_file=args.params2, kmax=args.kmax,
                                fit_sequence=args.sequence or DEFAULT_FIT2_SEQUENCE,
                                n_draws=args.draws, profile_points=25)
        return run_fit2(ns)
    return run_test2(argparse.Namespace(**common, load_params_file=args.params))
