"""Bad input through the three command lines, as a user meets it.

Each case runs ``bayesmix-gctb``, ``bayesmix-mixer`` or ``bayesmix`` in-process through
``main(argv)`` on files built from the shipped panels, and checks what the user sees: exit
status 1, exactly one ``error: FILE[, line N][, column C]: ...`` line on stderr naming the file
(line and column where they apply; the expected values are fixed by how each file was
damaged), no traceback, and no output file under the ``--out`` prefix. QC filters that drop
SNPs instead of refusing are checked by the counts they report.
"""

import gzip
import shutil
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bayesmix.cli import gctb as gctb_cli
from bayesmix.cli import main as bayesmix_cli
from bayesmix.cli import mixer as mixer_cli
from bayesmix.io.plink import Genotypes
from bayesmix.io.sumstats import write_ma, write_sumstats
from bayesmix.ld.compute import build_ld
from bayesmix.ld.eigen import eigen_decompose_blocks
from bayesmix.ld.gctb import read_gctb_ldm
from bayesmix.simulate.from_ld import sumstats_table

pytestmark = pytest.mark.filterwarnings("ignore:Numba will use object mode")

CHAIN = ["--chain-length", "20", "--burn-in", "10", "--thin", "1", "--no-netcdf"]
SBAYES_CHAIN = ["--chain-length", "20", "--burn-in", "10", "--thin", "1"]
MIXER_FIT = ["--fit-sequence", "infinitesimal", "--n-draws", "20"]


# --------------------------------------------------------------------------- damaged files
def gzip_cut_after(lines: list[str], keep: int) -> bytes:
    """gzip data whose readable content is exactly the first ``keep`` lines, then ends.

    The deflate stream is fully flushed after those lines and cut there (no final block, no
    trailer), as a download or copy that stopped: by construction reading breaks off in line
    ``keep + 1``.
    """
    packer = zlib.compressobj(wbits=31)
    return (packer.compress("".join(lines[:keep]).encode())
            + packer.flush(zlib.Z_FULL_FLUSH))


def gzip_bad_crc(lines: list[str]) -> bytes:
    """Complete gzip data whose CRC-32 trailer is wrong: every line decodes, the check fails
    after the last one (line ``len(lines) + 1``)."""
    data = bytearray(gzip.compress("".join(lines).encode()))
    data[-8] ^= 0xFF  # first byte of the CRC-32
    return bytes(data)


def truncate(path: Path, n_bytes: int = 100) -> None:
    path.write_bytes(path.read_bytes()[:-n_bytes])


# --------------------------------------------------------------------------- checks
def refused(capsys, rc: int, path, line=None, column=None) -> str:
    """Exit 1, one ``error:`` line (the last) naming ``path`` [line] [column], no traceback;
    returns the message after the location."""
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "Traceback" not in err, err
    errors = [text for text in err.splitlines() if text.startswith("error: ")]
    assert len(errors) == 1 and err.rstrip().splitlines()[-1] == errors[0], err
    location, _, message = errors[0][len("error: "):].partition(": ")
    expected = [str(path)] + ([f"line {line}"] if line is not None else []) + (
        [f"column {column}"] if column is not None else [])
    assert location.split(", ") == expected, errors[0]
    return message


def no_outputs(out: Path) -> None:
    """Nothing whose name starts with the --out prefix but OUT.log, the run's log, which a
    run refused after it started keeps, its last line the error."""
    left = sorted(p.name for p in out.parent.iterdir() if p.name.startswith(out.name))
    assert [name for name in left if name != out.name + ".log"] == []
    log = out.parent / (out.name + ".log")
    if log.exists():
        assert log.read_text().rstrip().splitlines()[-1].startswith("error: ")


# --------------------------------------------------------------------------- shared inputs
@pytest.fixture(scope="module")
def inputs(bfile21, bfile22, tmp_path_factory):
    """Phenotypes for the chr22 panel, 100 of its SNPs with full LD (GCTB files, a bayesmix
    folder, an eigen folder) and a .ma simulated from that LD; MiXeR LD folders of 300 SNPs
    of chr21 and chr22 with z-scores from a GWAS of N = 503."""
    d = tmp_path_factory.mktemp("bad_cli")
    rng = np.random.default_rng(15)
    geno = Genotypes.open(bfile22)
    samples = geno.samples
    phen = [f"{f} {i} {y:.6g}\n" for f, i, y in zip(samples["fid"], samples["iid"],
                                                     rng.normal(size=len(samples)))]
    (d / "y.phen").write_text("".join(phen))
    snps = geno.snps["snp"].iloc[5000:5100]
    (d / "snps.txt").write_text("\n".join(snps) + "\n")
    assert gctb_cli.main(["--bfile", str(bfile22), "--extract", str(d / "snps.txt"),
                          "--make-full-ldm", "--out", str(d / "ref")]) == 0
    ld = read_gctb_ldm(d / "ref.ldm.full")
    ld.save(d / "ref.ld")
    eigen_decompose_blocks(bfile22, block_snps=50, extract=set(snps),
                           progress=False).save(d / "ref.eigen")
    r = ld.to_scipy().toarray().astype(np.float64)
    effects = np.zeros(len(r))
    effects[[10, 60]] = 0.05
    z = (np.sqrt(20_000) * r @ effects
         + np.linalg.cholesky(r + 1e-3 * np.eye(len(r))) @ rng.normal(size=len(r)))
    write_ma(sumstats_table(z, 20_000, ld.snps), d / "trait.ma")
    for chrom, bfile in ((21, bfile21), (22, bfile22)):
        ids = set(Genotypes.open(bfile).snps["snp"].iloc[:300])
        mix = build_ld(bfile, "r2", r2min=0.05, window_kb=10_000, extract=ids, progress=False)
        mix.save(d / f"mix_chr{chrom}.ld")
        write_sumstats(sumstats_table(rng.normal(size=mix.shape[0]), 503, mix.snps),
                       d / f"t{chrom}.sumstats.gz")
    return SimpleNamespace(dir=d, bfile=bfile22, phen=phen, samples=samples)


def copy_bfile(src, dst: Path) -> Path:
    for ext in ("bed", "bim", "fam"):
        shutil.copy(f"{src}.{ext}", f"{dst}.{ext}")
    return dst


def bayes_c(inputs, out, *extra):
    return gctb_cli.main(["--bayes", "C", "--extract", str(inputs.dir / "snps.txt"), *CHAIN,
                          "--out", str(out), *extra])


def sbayes(inputs, out, *extra):
    return gctb_cli.main(["--sbayes", "C", *SBAYES_CHAIN, "--out", str(out), *extra])


def fit1(out, *extra):
    return mixer_cli.main(["fit1", *MIXER_FIT, "--out", str(out), *extra])


# --------------------------------------------------------------------------- bayesmix-gctb --bayes
def test_fam_with_a_duplicated_sample_is_refused(inputs, tmp_path, capsys):
    prefix = copy_bfile(inputs.bfile, tmp_path / "dup")
    fam = Path(f"{prefix}.fam").read_text().splitlines(keepends=True)
    fields = fam[4].split()
    fam[4] = " ".join(fam[3].split()[:2] + fields[2:]) + "\n"  # line 5 repeats line 4's ids
    Path(f"{prefix}.fam").write_text("".join(fam))
    rc = bayes_c(inputs, tmp_path / "run", "--bfile", str(prefix), "--pheno",
                 str(inputs.dir / "y.phen"))
    assert "appears twice (first on line 4)" in refused(capsys, rc, f"{prefix}.fam", 5, 2)
    no_outputs(tmp_path / "run")


@pytest.mark.parametrize("analysis", [["--bayes", "C", *CHAIN], ["--make-full-ldm"]])
def test_bim_with_a_duplicated_snp_id_is_refused(inputs, tmp_path, capsys, analysis):
    # GCTB stops on a duplicated SNP id ("Duplicate SNP ID found"): effects, SNP lists and LD
    # are matched by id. Only ids among the analysed SNPs matter: line 5006 repeats the id
    # of line 5005, both in --extract; the same damage outside it does not stop a run.
    prefix = copy_bfile(inputs.bfile, tmp_path / "dup")
    bim = Path(f"{prefix}.bim").read_text().splitlines(keepends=True)
    bim[5005] = "\t".join([bim[5005].split()[0], bim[5004].split()[1], *bim[5005].split()[2:]])
    bim[5005] += "\n"
    Path(f"{prefix}.bim").write_text("".join(bim))
    common = ["--bfile", str(prefix), "--pheno", str(inputs.dir / "y.phen")][
        :2 if "--make-full-ldm" in analysis else 4]
    rc = gctb_cli.main([*analysis, *common, "--extract", str(inputs.dir / "snps.txt"),
                        "--out", str(tmp_path / "run")])
    message = refused(capsys, rc, f"{prefix}.bim", 5006, 2)
    assert message.startswith(f"SNP id {bim[5004].split()[1]} appears twice (first on line 5005)")
    no_outputs(tmp_path / "run")
    outside = tmp_path / "outside.txt"
    outside.write_text("\n".join(b.split()[1] for b in bim[6000:6050]) + "\n")
    assert gctb_cli.main([*analysis, *common, "--extract", str(outside),
                          "--out", str(tmp_path / "fine")]) == 0


@pytest.mark.parametrize("option", ["--pheno", "--covar", "--dcovar"])
def test_duplicated_sample_in_phenotype_or_covariates_is_refused(inputs, tmp_path, capsys,
                                                                 option):
    rows = list(inputs.phen) + [inputs.phen[2]]  # line 504 repeats line 3
    (tmp_path / "dup.txt").write_text("".join(rows))
    files = {"--pheno": str(inputs.dir / "y.phen")} | {option: str(tmp_path / "dup.txt")}
    rc = bayes_c(inputs, tmp_path / "run", "--bfile", str(inputs.bfile),
                 *[x for kv in files.items() for x in kv])
    assert "first on line 3" in refused(capsys, rc, tmp_path / "dup.txt", len(rows), 2)
    no_outputs(tmp_path / "run")


def covariate_file(path: Path, samples, *columns) -> None:
    lines = [" ".join([f, i, *values]) + "\n" for f, i, *values in
             zip(samples["fid"], samples["iid"], *columns)]
    path.write_text("".join(lines))


def test_near_collinear_covariates_are_refused(inputs, tmp_path, capsys):
    """q2 = 2 q1 + noise of SD 1e-5 (a 1e-6 share of q2's SD): main printed .covRes means of
    about 5,700 and -2,900 for them."""
    rng = np.random.default_rng(3)
    q1 = rng.normal(50, 10, len(inputs.samples))
    q2 = 2 * q1 + 1e-5 * rng.normal(size=len(q1))
    covariate_file(tmp_path / "q.covar", inputs.samples, [f"{v:.10g}" for v in q1],
                   [f"{v:.10g}" for v in q2])
    rc = bayes_c(inputs, tmp_path / "run", "--bfile", str(inputs.bfile), "--pheno",
                 str(inputs.dir / "y.phen"), "--covar", str(tmp_path / "q.covar"))
    message = refused(capsys, rc, tmp_path / "q.covar", None, 4)
    assert "qcovar2 is a linear combination of the intercept and qcovar1" in message
    no_outputs(tmp_path / "run")


def test_constant_covariate_is_refused(inputs, tmp_path, capsys):
    rng = np.random.default_rng(4)
    age = [f"{v:.1f}" for v in rng.normal(50, 10, len(inputs.samples))]
    covariate_file(tmp_path / "q.covar", inputs.samples, age, ["7"] * len(age))
    rc = bayes_c(inputs, tmp_path / "run", "--bfile", str(inputs.bfile), "--pheno",
                 str(inputs.dir / "y.phen"), "--covar", str(tmp_path / "q.covar"))
    assert "qcovar2 is constant (7)" in refused(capsys, rc, tmp_path / "q.covar", None, 4)
    no_outputs(tmp_path / "run")


def test_discrete_covariate_aliasing_a_quantitative_one_is_refused(inputs, tmp_path, capsys):
    """sex given twice: as a 0/1 quantitative covariate and as labels F/M."""
    sex = np.random.default_rng(5).integers(0, 2, len(inputs.samples))
    covariate_file(tmp_path / "q.covar", inputs.samples, [str(s) for s in sex])
    covariate_file(tmp_path / "d.covar", inputs.samples, ["FM"[s] for s in sex])
    rc = bayes_c(inputs, tmp_path / "run", "--bfile", str(inputs.bfile), "--pheno",
                 str(inputs.dir / "y.phen"), "--covar", str(tmp_path / "q.covar"), "--dcovar",
                 str(tmp_path / "d.covar"))
    message = refused(capsys, rc, tmp_path / "d.covar", None, 3)
    assert "covar1=M is a linear combination of the intercept and qcovar1" in message
    no_outputs(tmp_path / "run")


@pytest.mark.parametrize("option", ["--pheno", "--covar", "--keep"])
def test_truncated_gzip_text_input_is_refused_at_its_line(inputs, tmp_path, capsys, option):
    rows = [f"{f} {i} {k % 7}.5\n" for k, (f, i) in enumerate(
        zip(inputs.samples["fid"], inputs.samples["iid"]))]
    (tmp_path / "cut.gz").write_bytes(gzip_cut_after(rows, 200))
    files = {"--pheno": str(inputs.dir / "y.phen")} | {option: str(tmp_path / "cut.gz")}
    rc = bayes_c(inputs, tmp_path / "run", "--bfile", str(inputs.bfile),
                 *[x for kv in files.items() for x in kv])
    assert "truncated or corrupt gzip" in refused(capsys, rc, tmp_path / "cut.gz", 201)
    no_outputs(tmp_path / "run")


def test_gzip_with_a_bad_checksum_is_refused(inputs, tmp_path, capsys):
    (tmp_path / "y.phen.gz").write_bytes(gzip_bad_crc(inputs.phen))
    rc = bayes_c(inputs, tmp_path / "run", "--bfile", str(inputs.bfile), "--pheno",
                 str(tmp_path / "y.phen.gz"))
    message = refused(capsys, rc, tmp_path / "y.phen.gz", len(inputs.phen) + 1)
    assert "CRC check failed" in message
    no_outputs(tmp_path / "run")


def test_binary_file_given_as_phenotypes_is_refused(inputs, tmp_path, capsys):
    (tmp_path / "y.bin").write_bytes(b"f1 a 1.0\n\xff\xfe\x00 2\n")
    rc = bayes_c(inputs, tmp_path / "run", "--bfile", str(inputs.bfile), "--pheno",
                 str(tmp_path / "y.bin"))
    assert "not a text file" in refused(capsys, rc, tmp_path / "y.bin", 2)
    no_outputs(tmp_path / "run")


def test_directory_given_as_phenotypes_is_refused(inputs, tmp_path, capsys):
    rc = bayes_c(inputs, tmp_path / "run", "--bfile", str(inputs.bfile), "--pheno",
                 str(inputs.dir))
    assert "directory" in refused(capsys, rc, inputs.dir)
    no_outputs(tmp_path / "run")


# --------------------------------------------------------------------------- bayesmix-gctb --sbayes
def test_truncated_gzip_summary_statistics_are_refused(inputs, tmp_path, capsys):
    rows = (inputs.dir / "trait.ma").read_text().splitlines(keepends=True)
    (tmp_path / "trait.ma.gz").write_bytes(gzip_cut_after(rows, 61))
    rc = sbayes(inputs, tmp_path / "run", "--ldm", str(inputs.dir / "ref.ldm.full"),
                "--gwas-summary", str(tmp_path / "trait.ma.gz"))
    assert "truncated or corrupt gzip" in refused(capsys, rc, tmp_path / "trait.ma.gz", 62)
    no_outputs(tmp_path / "run")


@pytest.mark.parametrize("folder, array", [("ref.ld", "data.npy"), ("ref.ld", "indptr.npy"),
                                           ("ref.eigen", "eigenvectors.npy")])
def test_truncated_array_of_an_ld_folder_is_refused(inputs, tmp_path, capsys, folder, array):
    shutil.copytree(inputs.dir / folder, tmp_path / folder)
    truncate(tmp_path / folder / array)
    rc = sbayes(inputs, tmp_path / "run", "--ldm", str(tmp_path / folder), "--gwas-summary",
                str(inputs.dir / "trait.ma"))
    assert "truncated" in refused(capsys, rc, tmp_path / folder / array)
    no_outputs(tmp_path / "run")


def test_summary_statistics_without_n_are_refused_for_sbayes(inputs, tmp_path, capsys):
    rows = (inputs.dir / "trait.ma").read_text().splitlines()
    (tmp_path / "z.txt").write_text("".join(
        " ".join(np.array(r.split())[[0, 1, 2, 4, 5]]) + "\n" for r in rows))  # SNP A1 A2 b se
    rc = sbayes(inputs, tmp_path / "run", "--ldm", str(inputs.dir / "ref.ldm.full"),
                "--gwas-summary", str(tmp_path / "z.txt"))
    assert "no N column" in refused(capsys, rc, tmp_path / "z.txt", 1)
    no_outputs(tmp_path / "run")


def test_corrupt_gzip_region_file_is_refused(inputs, tmp_path, capsys):
    (tmp_path / "regions.gz").write_bytes(gzip_bad_crc(["22 1 1000\n", "22 5000 6000\n"]))
    rc = sbayes(inputs, tmp_path / "run", "--ldm", str(inputs.dir / "ref.ldm.full"),
                "--gwas-summary", str(inputs.dir / "trait.ma"), "--exclude-region",
                str(tmp_path / "regions.gz"))
    refused(capsys, rc, tmp_path / "regions.gz", 3)
    no_outputs(tmp_path / "run")


def test_absurd_snp_effect_is_dropped_and_counted_not_blamed_on_the_ld(inputs, tmp_path,
                                                                      capsys):
    """b = 50 with se = 0.01 on one SNP of the .ma: on main SBayes diverged and the error
    blamed the LD. Its per-SNP phenotypic variance 2p(1-p)(N se^2 + b^2) is hundreds of
    times the others' (all 1 by construction of the simulated file), so QC rule 13 drops
    exactly that SNP, the run finishes, and the QC table and note say so."""
    table = (inputs.dir / "trait.ma").read_text().splitlines(keepends=True)
    fields = table[8].split()
    fields[4], fields[5] = "50", "0.01"
    table[8] = " ".join(fields) + "\n"
    (tmp_path / "absurd.ma").write_text("".join(table))
    out = tmp_path / "run"
    rc = sbayes(inputs, out, "--ldm", str(inputs.dir / "ref.ldm.full"), "--gwas-summary",
                str(tmp_path / "absurd.ma"))
    printed = capsys.readouterr().out
    assert rc == 0
    row = next(line for line in printed.splitlines() if line.startswith("per-SNP phenotypic"))
    assert row.split()[-2:] == ["1", "99"]
    assert f"e.g. {fields[0]} (BETA 50, SE 0.01" in printed
    kept = [line.split()[1] for line in (tmp_path / "run.snpRes").read_text().splitlines()[1:]]
    assert len(kept) == 99 and fields[0] not in kept


def test_several_pi_values_for_sbayes_c_are_refused(inputs, tmp_path, capsys):
    """SBayesC took the last of --pi 0.1,0.9 (pi 0.9) without a word; BayesC refused it."""
    rc = sbayes(inputs, tmp_path / "pi", "--ldm", str(inputs.dir / "ref.ldm.full"),
                "--gwas-summary", str(inputs.dir / "trait.ma"), "--pi", "0.1,0.9")
    assert rc == 1
    assert "BayesC takes one value, got 0.1, 0.9" in capsys.readouterr().err
    assert not (tmp_path / "pi.parRes").exists()


# --------------------------------------------------------------------------- bayesmix-gctb LD
def test_missing_genetic_map_for_shrunk_ld_is_refused(inputs, tmp_path, capsys):
    rc = gctb_cli.main(["--bfile", str(inputs.bfile), "--extract", str(inputs.dir / "snps.txt"),
                        "--make-shrunk-ldm", "--gen-map", str(tmp_path / "map.txt"), "--out",
                        str(tmp_path / "run")])
    assert "file not found" in refused(capsys, rc, tmp_path / "map.txt")
    no_outputs(tmp_path / "run")


def test_truncated_gzip_genetic_map_is_refused(inputs, tmp_path, capsys):
    snps = Genotypes.open(inputs.bfile, extract=inputs.dir / "snps.txt").snps
    rows = [f"{s} {bp} {bp / 1e6:.6f}\n" for s, bp in zip(snps["snp"], snps["bp"])]
    (tmp_path / "map.gz").write_bytes(gzip_cut_after(rows, 40))
    rc = gctb_cli.main(["--bfile", str(inputs.bfile), "--extract", str(inputs.dir / "snps.txt"),
                        "--make-shrunk-ldm", "--gen-map", str(tmp_path / "map.gz"), "--out",
                        str(tmp_path / "run")])
    refused(capsys, rc, tmp_path / "map.gz", 41)
    no_outputs(tmp_path / "run")


# --------------------------------------------------------------------------- bayesmix-mixer
def test_ldsc_sumstats_without_n_say_so(inputs, tmp_path, capsys):
    """On main: "no tag SNP left"."""
    with gzip.open(inputs.dir / "t22.sumstats.gz", "rt") as fh:
        rows = [line.split("\t") for line in fh.read().splitlines()]
    header = rows[0]
    keep = [header.index(c) for c in ("SNP", "A1", "A2", "Z")]
    (tmp_path / "noN.sumstats").write_text("".join(
        "\t".join(r[k] for k in keep) + "\n" for r in rows))
    rc = fit1(tmp_path / "run", "--trait1-file", str(tmp_path / "noN.sumstats"), "--ld-file",
              str(inputs.dir / "mix_chr@.ld"), "--chr2use", "22")
    message = refused(capsys, rc, tmp_path / "noN.sumstats", 1)
    assert "no N column" in message and "bayesmix munge --n" in message
    no_outputs(tmp_path / "run")


def test_sumstats_of_another_chromosome_than_the_ld(inputs, tmp_path, capsys, caplog):
    """chr21 statistics against chr22 LD: the per-chromosome drops are logged, then the error
    names both chromosomes."""
    caplog.set_level("INFO", logger="bayesmix")
    rc = fit1(tmp_path / "run", "--trait1-file", str(inputs.dir / "t21.sumstats.gz"),
              "--ld-file", str(inputs.dir / "mix_chr@.ld"), "--chr2use", "22")
    message = refused(capsys, rc, inputs.dir / "t21.sumstats.gz")
    assert "on chromosome(s) 21" in message and "on 22" in message
    assert any(r.getMessage().startswith("chr22: 0 tag SNPs of 300 reference SNPs (0 sumstats")
               for r in caplog.records)
    no_outputs(tmp_path / "run")


def test_chromosomes_without_ld_are_named(inputs, tmp_path, capsys):
    rc = fit1(tmp_path / "run", "--trait1-file", str(inputs.dir / "t22.sumstats.gz"),
              "--ld-file", str(inputs.dir / "mix_chr@.ld"), "--chr2use", "20-22")
    message = refused(capsys, rc, inputs.dir / "mix_chr20.ld")
    assert "chromosome(s) 20 of the 3" in message and "LD exists for 21, 22 only" in message
    no_outputs(tmp_path / "run")


def test_an_ld_template_without_at_for_several_chromosomes_is_refused(inputs, tmp_path,
                                                                       capsys):
    """Every chromosome would read the same folder (chr21's statistics against chr22's LD:
    all dropped as absent, and the fit ran on chr22 alone with exit 0)."""
    rc = fit1(tmp_path / "run", "--trait1-file", str(inputs.dir / "t22.sumstats.gz"),
              "--ld-file", str(inputs.dir / "mix_chr22.ld"), "--chr2use", "21-22")
    message = refused(capsys, rc, inputs.dir / "mix_chr22.ld")
    assert "no '@'" in message and "2 chromosomes" in message
    no_outputs(tmp_path / "run")


def test_an_extract_list_of_no_known_snp_is_named(inputs, tmp_path, capsys):
    """The error named the statistics file and pointed at --chr2use."""
    (tmp_path / "none.snps").write_text("rs_not_there\n")
    rc = fit1(tmp_path / "run", "--trait1-file", str(inputs.dir / "t22.sumstats.gz"),
              "--ld-file", str(inputs.dir / "mix_chr@.ld"), "--chr2use", "22",
              "--extract", str(tmp_path / "none.snps"))
    message = refused(capsys, rc, tmp_path / "none.snps")
    assert "--extract/--exclude removed all" in message
    no_outputs(tmp_path / "run")


def test_truncated_inputs_of_a_mixer_fit(inputs, tmp_path, capsys):
    shutil.copytree(inputs.dir / "mix_chr22.ld", tmp_path / "cut_chr22.ld")
    truncate(tmp_path / "cut_chr22.ld" / "indices.npy")
    rc = fit1(tmp_path / "run", "--trait1-file", str(inputs.dir / "t22.sumstats.gz"),
              "--ld-file", str(tmp_path / "cut_chr@.ld"), "--chr2use", "22")
    refused(capsys, rc, tmp_path / "cut_chr22.ld" / "indices.npy")
    with gzip.open(inputs.dir / "t22.sumstats.gz", "rt") as fh:
        rows = fh.read().splitlines(keepends=True)
    (tmp_path / "cut.sumstats.gz").write_bytes(gzip_cut_after(rows, 150))
    rc = fit1(tmp_path / "run", "--trait1-file", str(tmp_path / "cut.sumstats.gz"),
              "--ld-file", str(inputs.dir / "mix_chr@.ld"), "--chr2use", "22")
    refused(capsys, rc, tmp_path / "cut.sumstats.gz", 151)
    rc = bayesmix_cli.main(["mixer", "fit", "--sumstats", str(tmp_path / "cut.sumstats.gz"),
                            "--ld", str(inputs.dir / "mix_chr@.ld"), "--chr", "22", "--out",
                            str(tmp_path / "run")])
    refused(capsys, rc, tmp_path / "cut.sumstats.gz", 151)
    no_outputs(tmp_path / "run")


def test_underpowered_gwas_gets_a_warning(inputs, tmp_path):
    """The library check the fit commands call (MiXeR: N >= 50,000): the shipped-panel GWAS
    has N = 503 on every SNP; the same z-scores with N = 100,000 pass."""
    from bayesmix.prepare.mixer import load_mixer_data, power_warning

    data, _, _ = load_mixer_data(inputs.dir / "t22.sumstats.gz", inputs.dir / "mix_chr@.ld",
                                 ["22"])
    warning = power_warning(data)
    assert "median N 503" in warning and "N >= 50,000" in warning
    data.n = np.full(data.n.shape, 100_000.0)
    assert power_warning(data) is None


def test_a_z_that_no_snp_could_have_gets_a_warning(inputs):
    """z^2 > N (the SNP alone would explain more than half the phenotypic variance): a fit
    accepted Z = 1e6 without a word and ran minutes on it. Real z-scores of the shipped
    statistics at N = 100,000 give no warning; one z of 400 (400^2 > 100,000) does."""
    from bayesmix.prepare.mixer import data_warnings, extreme_z_warning, load_mixer_data

    data, _, _ = load_mixer_data(inputs.dir / "t22.sumstats.gz", inputs.dir / "mix_chr@.ld",
                                 ["22"])
    data.n = np.full(data.n.shape, 100_000.0)
    assert extreme_z_warning(data) is None and data_warnings(data) == []
    data.z[7] = -400.0
    warning = extreme_z_warning(data, label="trait 2")
    assert warning.startswith("trait 2: 1 tag SNPs have z^2 > N") and "largest |z| 400" in warning
    assert data_warnings(data, label="trait 2") == [warning]


def test_the_z_warning_names_the_censoring_option_of_the_command(inputs, tmp_path, capsys):
    """The warning advised --z1max also under ``bayesmix mixer fit``, whose option is
    --censor-z. One z of 100 among N = 503 (100^2 > 503) in the shipped statistics."""
    table = read_table(inputs.dir / "t22.sumstats.gz")
    table.loc[7, ["Z", "BETA"]] = 100.0, 100.0 * table.loc[7, "SE"]  # Z = BETA / SE
    write_table(table, tmp_path / "big.sumstats.gz")
    for command, option, other in (
            (["fit1", *MIXER_FIT, "--trait1-file"], "--z1max", "--censor-z"),
            (["mixer", "fit", "--sequence", "infinitesimal", "--draws", "20", "--sumstats"],
             "--censor-z", "--z1max")):
        main = mixer_cli.main if command[0] == "fit1" else bayesmix_cli.main
        place = ["--ld-file", "--chr2use"] if command[0] == "fit1" else ["--ld", "--chr"]
        assert main([*command, str(tmp_path / "big.sumstats.gz"), place[0],
                     str(inputs.dir / "mix_chr@.ld"), place[1], "22", "--out",
                     str(tmp_path / command[0])]) == 0
        err = capsys.readouterr().err
        warning = next(line for line in err.splitlines() if "z^2 > N" in line)
        assert "1 tag SNPs have z^2 > N" in warning and "largest |z| 100 with N 503" in warning
        assert f"{option} censors large z" in warning and other not in warning


def read_table(path):
    return pd.read_csv(path, sep="\t")


def write_table(table, path):
    table.to_csv(path, sep="\t", index=False)


def test_sumstats_without_a_snp_column_are_refused_for_mixer(inputs, tmp_path, capsys):
    """The SNP column renamed to one no reader knows: the ids were built as CHR:BP, matched
    none of the LD's rs ids, and the fit ended in "no tag SNP left"."""
    table = read_table(inputs.dir / "t22.sumstats.gz").rename(columns={"SNP": "MARKER_ID"})
    write_table(table, tmp_path / "noSNP.sumstats.gz")
    rc = fit1(tmp_path / "run", "--trait1-file", str(tmp_path / "noSNP.sumstats.gz"),
              "--ld-file", str(inputs.dir / "mix_chr@.ld"), "--chr2use", "22")
    message = refused(capsys, rc, tmp_path / "noSNP.sumstats.gz", 1)
    assert message.startswith("no SNP id column (expected one named SNP, RSID,")
    assert f"header: {' '.join(table.columns)})" in message and "by SNP id" in message
    no_outputs(tmp_path / "run")


def test_allele_swaps_and_mismatches_are_counted(inputs, tmp_path):
    """12 SNPs given with A1/A2 exchanged and Z and BETA negated, 5 with alleles of another
    variant: the per-chromosome line counted the 5 as a drop but said nothing of the 12 sign
    flips. The 12 come back with the z of the file before the edit."""
    from bayesmix.prepare.mixer import load_mixer_data

    table = read_table(inputs.dir / "t22.sumstats.gz")
    swap, other = table.index[10:22], table.index[40:45]
    table.loc[swap, ["A1", "A2"]] = table.loc[swap, ["A2", "A1"]].to_numpy()
    table.loc[swap, ["Z", "BETA"]] *= -1
    table.loc[other, ["A1", "A2"]] = [_other_alleles(*pair) for pair in
                                      table.loc[other, ["A1", "A2"]].to_numpy()]
    write_table(table, tmp_path / "flips.sumstats.gz")
    data, _, lines = load_mixer_data(tmp_path / "flips.sumstats.gz", inputs.dir / "mix_chr@.ld",
                                     ["22"])
    assert ("harmonisation drops: none; alleles: 12 swapped to the reference's (z sign "
            "flipped), 0 on the other strand, 5 not matching it (dropped);") in lines[0]
    truth = read_table(inputs.dir / "t22.sumstats.gz").set_index("SNP")["Z"]
    got = dict(zip(data.tags["snp"], data.z))
    assert len(got) == len(truth) - 5
    np.testing.assert_allclose([got[snp] for snp in table.loc[swap, "SNP"]],
                               truth[table.loc[swap, "SNP"]], rtol=1e-7)


def _other_alleles(a1, a2):
    """Two bases that are neither (a1, a2), swapped, nor on the other strand."""
    strand = {"A": "T", "T": "A", "C": "G", "G": "C"}
    return next(list(pair) for pair in ("AC", "AG", "CA", "GA") if
                set(pair) not in ({a1, a2}, {strand[a1], strand[a2]}))


def test_a_bim_whose_alleles_differ_from_the_ld_is_reported(inputs, tmp_path):
    """A .bim with the LD's ids but A1/A2 exchanged on 7 SNPs was reported as matching (only
    ids were compared); harmless for MiXeR (r^2 only, statistics aligned to the LD's
    alleles), which the line says. 2 SNPs with other alleles make the line a warning."""
    from bayesmix.ld.store import LDMatrix
    from bayesmix.prepare.mixer import load_mixer_data

    snps = LDMatrix.load(inputs.dir / "mix_chr22.ld").snps
    bim = snps[["chr", "snp", "cm", "bp", "a1", "a2"]].copy()
    bim.to_csv(tmp_path / "same_chr22.bim", sep="\t", header=False, index=False)
    bim.loc[3:9, ["a1", "a2"]] = bim.loc[3:9, ["a2", "a1"]].to_numpy()
    bim.to_csv(tmp_path / "swap_chr22.bim", sep="\t", header=False, index=False)
    bim.loc[[20, 30], ["a1", "a2"]] = [_other_alleles(*pair) for pair in
                                       bim.loc[[20, 30], ["a1", "a2"]].to_numpy()]
    bim.to_csv(tmp_path / "other_chr22.bim", sep="\t", header=False, index=False)
    first = (f"by id, but their alleles differ at {{}} of 300 SNPs (first {snps['snp'][3]}: "
             f"A1/A2 {snps['a2'][3]}/{snps['a1'][3]} in the .bim, {snps['a1'][3]}/"
             f"{snps['a2'][3]} in the LD; ")
    expected = {
        "same": f"chr22: the reference SNPs of {inputs.dir / 'mix_chr22.ld'} match "
                f"{tmp_path / 'same_chr22.bim'} (ids and alleles)",
        "swap": f"chr22: the reference SNPs of {inputs.dir / 'mix_chr22.ld'} match "
                f"{tmp_path / 'swap_chr22.bim'} " + first.format(7) + "7 swapped or on the "
                "other strand, 0 other alleles): harmless, as the MiXeR models use r^2 only; "
                "the statistics are aligned to the LD folder's alleles, not the .bim's",
        "other": f"chr22: warning: the reference SNPs of {inputs.dir / 'mix_chr22.ld'} match "
                 f"{tmp_path / 'other_chr22.bim'} " + first.format(9) + "7 swapped or on the "
                 "other strand, 2 other alleles): the .bim may be of another panel or genome "
                 "build; the statistics are aligned to the LD folder's alleles, not the .bim's"}
    for name, line in expected.items():
        _, _, lines = load_mixer_data(inputs.dir / "t22.sumstats.gz",
                                      inputs.dir / "mix_chr@.ld", ["22"],
                                      bim_template=tmp_path / f"{name}_chr@.bim")
        assert lines[0] == line


@pytest.mark.parametrize("ld_in_sample", [True, False])
def test_an_ld_folder_without_weak_ld_sums_is_not_said_to_use_them(inputs, tmp_path,
                                                                   ld_in_sample):
    """weak_ld.npy removed from chr22's folder: the warning said the weak LD is left out and
    the next line that the sums were "used as stored". Now no line claims sums for chr22;
    with chr21's folder intact, the line names chr21 (in-sample: used as stored; else as
    stored too, its 300 rows being too few to calibrate)."""
    from bayesmix.prepare.mixer import load_mixer_data

    for chrom in ("21", "22"):
        shutil.copytree(inputs.dir / f"mix_chr{chrom}.ld", tmp_path / f"mix_chr{chrom}.ld")
    (tmp_path / "mix_chr22.ld" / "weak_ld.npy").unlink()
    table = pd.concat([read_table(inputs.dir / f"t{c}.sumstats.gz") for c in (21, 22)])
    write_table(table, tmp_path / "t.sumstats.gz")
    _, _, lines = load_mixer_data(inputs.dir / "t22.sumstats.gz", tmp_path / "mix_chr@.ld",
                                  ["22"], ld_in_sample=ld_in_sample)
    assert lines[1].startswith(f"chr22: warning: {tmp_path / 'mix_chr22.ld'} has no weak-LD "
                               "sums") and "left out" in lines[1]
    assert len(lines) == 2, lines
    _, _, lines = load_mixer_data(tmp_path / "t.sumstats.gz", tmp_path / "mix_chr@.ld",
                                  ["21", "22"], ld_in_sample=ld_in_sample)
    weak = [line for line in lines if "weak-LD sums" in line and "warning" not in line]
    expected = ("chr21: weak-LD sums used as stored (--ld-in-sample" if ld_in_sample else
                "chr21: weak-LD sums used as stored, not calibrated for the panel's sampling "
                "noise: 300 rows, fewer than the 1000 the calibration needs")
    assert len(weak) == 1 and weak[0].startswith(expected), lines


# --------------------------------------------------------------------------- bayesmix munge
def test_munge_refuses_damaged_statistics_and_writes_nothing(inputs, tmp_path, capsys):
    rows = (inputs.dir / "trait.ma").read_text().splitlines(keepends=True)
    (tmp_path / "bad.ma.gz").write_bytes(gzip_bad_crc(rows))
    out = tmp_path / "run"
    rc = bayesmix_cli.main(["munge", "--sumstats", str(tmp_path / "bad.ma.gz"), "--ref",
                            str(inputs.bfile), "--out", str(out)])
    refused(capsys, rc, tmp_path / "bad.ma.gz", len(rows) + 1)
    no_outputs(out)
    z_only = "".join(" ".join(np.array(r.split())[[0, 1, 2, 4]]) + "\n" for r in rows)
    (tmp_path / "z.txt").write_text(z_only.replace(" b\n", " Z\n", 1))
    rc = bayesmix_cli.main(["munge", "--sumstats", str(tmp_path / "z.txt"), "--ref",
                            str(inputs.bfile), "--out", str(out)])
    assert "pass --n" in refused(capsys, rc, tmp_path / "z.txt", 1)
    no_outputs(out)
