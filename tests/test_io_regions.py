"""Region files and chromosome codes (:mod:`bayesmix.io.regions`) as the genotype filters use
them: ``--exclude-region`` and ``--chr``."""

import os
from pathlib import Path

import numpy as np
import pytest

from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.io.regions import read_regions
from bayesmix.prepare.alphabet import SampleSnpFilters, load_alphabet_data


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def table(path):
    return read_regions(path).to_dict("list")


INTEGERS = "22 16000000 17000000\nchr6 28477797 33448354\n"


@pytest.mark.parametrize("text", [
    "22 16000000.0 17000000.0\nchr6 28477797.0 33448354\n",   # R / pandas float output
    "22 1.6e7 1.7E+07\nchr6 28477797 33448354.000\n",
    "chr start end\n22 16000000.0 17000000\nchr6 28477797 33448354\n",      # a header
    "\ufeff22 16000000 17000000\nchr6 28477797 33448354\n",                 # byte-order mark
])
def test_whole_numbers_written_as_floats_are_positions(tmp_path, text):
    """The first line is data when it looks like data: it was taken as a header and its
    region dropped without a word."""
    assert table(write(tmp_path / "r.txt", text)) == table(write(tmp_path / "i.txt", INTEGERS))


@pytest.mark.parametrize("text, line, column, message", [
    ("22 16,000,000 17,000,000\n", 1, 2, "'16,000,000' is not a plain integer"),
    ("22 16000000 17000000.5\n", 1, 3, "'17000000.5' is not a whole number"),
    ("22 16Mb 17Mb\n", 1, 2, "non-integer position '16Mb'"),
    ("chr6 abc def\n", 1, 2, "non-integer position 'abc'"),
    ("CHR START END\n22 1 2\n6 nan 5\n", 3, 2, "'nan' is not a whole number"),
    ("22 1 2\nCHR START END\n", 2, 2, "non-integer position 'START'"),  # header only first
])
def test_positions_that_are_not_integers_name_file_line_and_column(tmp_path, text, line,
                                                                   column, message):
    path = write(tmp_path / "r.txt", text)
    with pytest.raises(InputError, match=f"r.txt, line {line}, column {column}: .*{message}"):
        read_regions(path)


@pytest.fixture(scope="module")
def small(bfile22, tmp_path_factory):
    """First 300 SNPs of the shipped chr22 subset and a phenotype for every sample."""
    tmp = tmp_path_factory.mktemp("regions")
    geno = Genotypes.open(bfile22)
    write(tmp / "snps.txt", "\n".join(geno.snps["snp"][:300]) + "\n")
    y = np.random.default_rng(1).normal(size=geno.n_samples)
    write(tmp / "y.phen", "".join(f"{f} {i} {v:.6f}\n" for (f, i), v
                                  in zip(geno.samples.itertuples(index=False), y)))
    return tmp, geno.snps[:300]


def test_region_filter_count_is_reported_even_when_zero(small, bfile22):
    tmp, snps = small
    first, last = int(snps["bp"].iloc[10]), int(snps["bp"].iloc[19])
    as_floats = write(tmp / "f.txt", f"22 {first}.0 {last}.0\n")
    expected = int(((snps["bp"] >= first) & (snps["bp"] <= last)).sum())
    assert expected >= 10

    def counts(regions):
        loaded = load_alphabet_data(bfile22, tmp / "y.phen", filters=SampleSnpFilters(
            extract=str(tmp / "snps.txt"), exclude_regions=str(regions)))
        return dict(loaded.counts), loaded.data.genotypes.n_snps

    found, n_snps = counts(as_floats)
    assert found["SNPs in excluded regions"] == expected
    assert n_snps == 300 - expected - found.get("monomorphic SNPs", 0)
    found, _ = counts(write(tmp / "none.txt", "21 1 100000000\n"))  # matches no SNP
    assert found["SNPs in excluded regions"] == 0


def test_chr_matches_chr_prefixed_bim(bfile22, tmp_path):
    """--chr 22 on a .bim labelled chr22 (chromosomes compared as PLINK codes, as the
    region filters do); it said 'no SNPs left after filtering'."""
    prefix = tmp_path / "prefixed"
    lines = Path(f"{bfile22}.bim").read_text().splitlines(keepends=True)
    write(Path(f"{prefix}.bim"), "".join("chr" + line for line in lines))
    for ext in ("bed", "fam"):
        os.symlink(os.path.abspath(f"{bfile22}.{ext}"), f"{prefix}.{ext}")
    truth = Genotypes.open(bfile22, chrom="22")
    assert truth.n_snps == len(lines)
    for label in ("22", "chr22", 22):
        got = Genotypes.open(prefix, chrom=label)
        assert got.snps["snp"].tolist() == truth.snps["snp"].tolist()
        assert got.filter_counts["SNPs on other chromosomes"] == 0
    with pytest.raises(InputError, match="no SNPs left"):
        Genotypes.open(prefix, chrom="21")


def test_maf_above_one_half_is_refused_before_reading():
    with pytest.raises(InputError, match=r"--maf is a minor allele frequency, in \[0, 0.5\]"):
        SampleSnpFilters(maf=0.6)
    with pytest.raises(InputError, match="--maf"):
        SampleSnpFilters(maf=float("nan"))
    assert SampleSnpFilters(maf=0.5).maf == 0.5
