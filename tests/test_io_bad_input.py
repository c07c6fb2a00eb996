"""Bad-input table: every malformed input raises InputError naming the file, line and column;
QC filters that drop instead of refusing report what they dropped.

Damaged gzip files are built so that where reading must stop is known by construction
(:func:`gzip_cut_after`, :func:`gzip_bad_crc`), independently of the reader.
"""

import gzip
import shutil
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesmix.errors import InputError
from bayesmix.io.harmonise import harmonise
from bayesmix.io.pheno import align_samples, check_design, read_covar, read_phen, read_qcovar
from bayesmix.io.plink import Genotypes, read_bim, read_id_list, read_snp_list
from bayesmix.io.regions import read_regions
from bayesmix.io.sumstats import read_sumstats
from bayesmix.ld.eigen import EigenBlocks, eigen_decompose_blocks, read_ld_blocks
from bayesmix.ld.open import open_ld, read_ld_list
from bayesmix.ld.shrunk import read_genetic_map
from bayesmix.ld.store import LDMatrix

MA_HEADER = "SNP A1 A2 freq b se p N\n"
MA_ROW = "rs1 A G 0.2 0.1 0.05 0.05 1000\n"


def gzip_cut_after(text: str, keep: int) -> bytes:
    """gzip data of ``text`` fully flushed after its first ``keep`` lines and cut there (no
    final block, no trailer): reading must break off in line ``keep + 1``."""
    lines = text.splitlines(keepends=True)
    packer = zlib.compressobj(wbits=31)
    return packer.compress("".join(lines[:keep]).encode()) + packer.flush(zlib.Z_FULL_FLUSH)


def gzip_bad_crc(text: str) -> bytes:
    """Complete gzip data of ``text`` with a wrong CRC-32: the check fails after the last line."""
    data = bytearray(gzip.compress(text.encode()))
    data[-8] ^= 0xFF
    return bytes(data)


def copy_bfile(src: Path, dst: Path) -> Path:
    for ext in ("bed", "bim", "fam"):
        shutil.copy(f"{src}.{ext}", f"{dst}.{ext}")
    return dst


def set_bim_field(prefix: Path, line: int, column: int, value: str) -> None:
    """Overwrite one field (1-based line and column) of ``prefix.bim``."""
    path = Path(f"{prefix}.bim")
    lines = path.read_text().splitlines(keepends=True)
    fields = lines[line - 1].rstrip("\n").split("\t")
    fields[column - 1] = value
    lines[line - 1] = "\t".join(fields) + "\n"
    path.write_text("".join(lines))


def truncated_bed(tmp, bfile):
    prefix = copy_bfile(bfile, tmp / "t")
    data = Path(f"{prefix}.bed").read_bytes()
    Path(f"{prefix}.bed").write_bytes(data[:-100])
    return lambda: Genotypes.open(prefix), "t.bed", None, None


def bim_bed_mismatch(tmp, bfile):
    prefix = copy_bfile(bfile, tmp / "m")
    lines = Path(f"{prefix}.bim").read_text().splitlines(keepends=True)
    Path(f"{prefix}.bim").write_text("".join(lines[:-1]))
    return lambda: Genotypes.open(prefix), "m.bed", None, None


def bed_bad_magic(tmp, bfile):
    prefix = copy_bfile(bfile, tmp / "g")
    data = bytearray(Path(f"{prefix}.bed").read_bytes())
    data[0] = 0
    Path(f"{prefix}.bed").write_bytes(bytes(data))
    return lambda: Genotypes.open(prefix), "g.bed", None, None


def bim_non_numeric_position(tmp, bfile):
    prefix = copy_bfile(bfile, tmp / "b")
    set_bim_field(prefix, 7, 4, "12x")
    return lambda: Genotypes.open(prefix), "b.bim", 7, 4


def bim_missing_position(tmp, bfile):
    prefix = copy_bfile(bfile, tmp / "n")
    set_bim_field(prefix, 3, 4, "NA")
    return lambda: Genotypes.open(prefix), "n.bim", 3, 4


def fam_missing_field(tmp, bfile):
    prefix = copy_bfile(bfile, tmp / "f")
    lines = Path(f"{prefix}.fam").read_text().splitlines(keepends=True)
    lines[2] = " ".join(lines[2].split()[:5]) + "\n"
    Path(f"{prefix}.fam").write_text("".join(lines))
    return lambda: Genotypes.open(prefix), "f.fam", 3, None


def missing_bim(tmp, bfile):
    prefix = copy_bfile(bfile, tmp / "x")
    Path(f"{prefix}.bim").unlink()
    return lambda: Genotypes.open(prefix), "x.bim", None, None


def keep_file_one_field(tmp, bfile):
    (tmp / "k.txt").write_text("HG00096 HG00096\nHG00097\n")
    return lambda: read_id_list(tmp / "k.txt"), "k.txt", 2, None


def sumstats_missing_column(tmp, bfile):
    (tmp / "s.ma").write_text("SNP A1 A2 freq b p N\nrs1 A G 0.2 0.1 0.05 1000\n")
    return lambda: read_sumstats(tmp / "s.ma", format="ma"), "s.ma", 1, None


def sumstats_no_effect_column(tmp, bfile):
    (tmp / "s.txt").write_text("SNP A1 A2 N\nrs1 A G 1000\n")
    return lambda: read_sumstats(tmp / "s.txt"), "s.txt", 1, None


def sumstats_non_numeric(tmp, bfile):
    (tmp / "s.ma").write_text(MA_HEADER + MA_ROW + "rs2 A G 0.2 0.1 zero 0.05 1000\n")
    return lambda: read_sumstats(tmp / "s.ma"), "s.ma", 3, 6


def sumstats_short_row(tmp, bfile):
    (tmp / "s.ma").write_text(MA_HEADER + MA_ROW + MA_ROW + "rs2 A G 0.2 0.1 0.05 1000\n")
    return lambda: read_sumstats(tmp / "s.ma"), "s.ma", 4, None


def sumstats_long_row_tab(tmp, bfile):
    (tmp / "s.tsv").write_text("SNP\tA1\tA2\tZ\tN\nrs1\tA\tG\t1\t10\nrs2\tA\tG\t1\t10\t3\n")
    return lambda: read_sumstats(tmp / "s.tsv"), "s.tsv", 3, None


def sumstats_empty(tmp, bfile):
    (tmp / "s.ma").write_text("")
    return lambda: read_sumstats(tmp / "s.ma"), "s.ma", 1, None


def sumstats_header_only(tmp, bfile):
    (tmp / "s.ma").write_text(MA_HEADER)
    return lambda: read_sumstats(tmp / "s.ma"), "s.ma", 2, None


def sumstats_duplicated_header(tmp, bfile):
    (tmp / "s.txt").write_text("SNP A1 A2 Z Z N\nrs1 A G 1 1 10\n")
    return lambda: read_sumstats(tmp / "s.txt"), "s.txt", 1, None


def column_map_unknown_target(tmp, bfile):
    (tmp / "s.txt").write_text("id ea oa z\nrs1 A G 1\n")
    cols = {"id": "SNP", "ea": "A1", "oa": "A2", "z": "ZSCORE"}
    return lambda: read_sumstats(tmp / "s.txt", columns=cols), "s.txt", 1, None


def column_map_name_not_in_header(tmp, bfile):
    (tmp / "s.txt").write_text("id ea oa z\nrs1 A G 1\n")
    cols = {"rsid": "SNP", "ea": "A1", "oa": "A2", "z": "Z"}
    return lambda: read_sumstats(tmp / "s.txt", columns=cols), "s.txt", 1, None


def reference_duplicated_snps(tmp, bfile):
    prefix = copy_bfile(bfile, tmp / "d")
    set_bim_field(prefix, 10, 2, Path(f"{prefix}.bim").read_text().splitlines()[4].split("\t")[1])
    (tmp / "s.ma").write_text(MA_HEADER + MA_ROW)
    return lambda: harmonise(read_sumstats(tmp / "s.ma"), prefix), "d.bim", 10, 2


def region_non_integer(tmp, bfile):
    (tmp / "r.txt").write_text("6 28000000 33000000\n6 abc 5\n")
    return lambda: read_regions(tmp / "r.txt"), "r.txt", 2, 2


def phen_all_missing(tmp, bfile):
    (tmp / "p.phen").write_text("f1 a -9 1\nf2 b NA 2\n")
    return lambda: read_phen(tmp / "p.phen"), "p.phen", None, 3


def phen_no_shared_ids(tmp, bfile):
    (tmp / "p.phen").write_text("X1 Y1 1.0\nX2 Y2 2.0\n")
    samples = Genotypes.open(bfile).samples
    return lambda: align_samples(samples, tmp / "p.phen"), "p.phen", None, None


def phen_non_numeric(tmp, bfile):
    (tmp / "p.phen").write_text("f1 a 1.0 2\nf2 b 2.0 tall\n")
    return lambda: read_phen(tmp / "p.phen", mpheno=2), "p.phen", 2, 4


def phen_duplicated_ids(tmp, bfile):
    (tmp / "p.phen").write_text("f1 a 1.0\nf2 b 2.0\nf1 a 3.0\n")
    return lambda: read_phen(tmp / "p.phen"), "p.phen", 3, 2


def phen_ragged(tmp, bfile):
    (tmp / "p.phen").write_text("f1 a 1.0 2\nf2 b 2.0\n")
    return lambda: read_phen(tmp / "p.phen"), "p.phen", 2, None


def phen_bad_mpheno(tmp, bfile):
    (tmp / "p.phen").write_text("f1 a 1.0\n")
    return lambda: read_phen(tmp / "p.phen", mpheno=2), "p.phen", None, None


def qcovar_non_numeric(tmp, bfile):
    (tmp / "q.qcovar").write_text("f1 a 1.0\nf2 b one\n")
    return lambda: read_qcovar(tmp / "q.qcovar"), "q.qcovar", 2, 3


def covar_missing_file(tmp, bfile):
    return lambda: read_covar(tmp / "none.covar"), "none.covar", None, None


def qcovar_collinear(tmp, bfile):
    samples = pd.DataFrame({"fid": ["a", "b", "c"], "iid": ["a", "b", "c"]})
    (tmp / "p.phen").write_text("a a 1\nb b 2\nc c 3\n")
    (tmp / "q.qcovar").write_text("a a 5\nb b 5\nc c 5\n")
    return lambda: align_samples(samples, tmp / "p.phen", tmp / "q.qcovar"), "q.qcovar", None, 3


def qcovar_duplicated_column(tmp, bfile):
    samples = pd.DataFrame({"fid": list("abcd"), "iid": list("abcd")})
    (tmp / "p.phen").write_text("a a 1\nb b 2\nc c 3\nd d 4\n")
    (tmp / "q.qcovar").write_text("a a 1 3 1\nb b 2 1 2\nc c 3 4 3\nd d 4 1 4\n")
    return lambda: align_samples(samples, tmp / "p.phen", tmp / "q.qcovar"), "q.qcovar", None, 5


def fam_duplicated_ids(tmp, bfile):
    prefix = copy_bfile(bfile, tmp / "d")
    lines = Path(f"{prefix}.fam").read_text().splitlines(keepends=True)
    lines[9] = " ".join(lines[6].split()[:2] + lines[9].split()[2:]) + "\n"
    Path(f"{prefix}.fam").write_text("".join(lines))
    return lambda: Genotypes.open(prefix), "d.fam", 10, 2


PHEN = "".join(f"f{k} i{k} {k}.5 {k % 3}\n" for k in range(30))


def phen_gzip_truncated(tmp, bfile):
    (tmp / "p.phen.gz").write_bytes(gzip_cut_after(PHEN, 12))
    return lambda: read_phen(tmp / "p.phen.gz"), "p.phen.gz", 13, None


def qcovar_gzip_bad_crc(tmp, bfile):
    (tmp / "q.gz").write_bytes(gzip_bad_crc(PHEN))
    return lambda: read_qcovar(tmp / "q.gz"), "q.gz", 31, None


def covar_gzip_truncated_in_first_line(tmp, bfile):
    (tmp / "c.gz").write_bytes(gzip_cut_after(PHEN, 0))
    return lambda: read_covar(tmp / "c.gz"), "c.gz", 1, None


def keep_list_gzip_truncated(tmp, bfile):
    (tmp / "k.gz").write_bytes(gzip_cut_after(PHEN, 25))
    return lambda: read_id_list(tmp / "k.gz"), "k.gz", 26, None


def snp_list_gzip_truncated(tmp, bfile):
    (tmp / "s.gz").write_bytes(gzip_cut_after("".join(f"rs{k}\n" for k in range(50)), 7))
    return lambda: read_snp_list(tmp / "s.gz"), "s.gz", 8, None


def regions_gzip_bad_crc(tmp, bfile):
    (tmp / "r.gz").write_bytes(gzip_bad_crc("6 28000000 33000000\n8 1 2\n"))
    return lambda: read_regions(tmp / "r.gz"), "r.gz", 3, None


def sumstats_gzip_truncated(tmp, bfile):
    text = MA_HEADER + "".join(f"rs{k} A G 0.2 0.1 0.05 0.05 1000\n" for k in range(3000))
    (tmp / "s.ma.gz").write_bytes(gzip_cut_after(text, 1234))
    return lambda: read_sumstats(tmp / "s.ma.gz"), "s.ma.gz", 1235, None


def sumstats_bgzip_second_member_truncated(tmp, bfile):
    """bgzip-style: several gzip members one after another; the damage is in the second."""
    rows = [f"rs{k} A G 0.2 0.1 0.05 0.05 1000\n" for k in range(400)]
    text = MA_HEADER + "".join(rows)
    first = gzip.compress("".join((MA_HEADER, *rows[:150])).encode())
    (tmp / "s.ma.bgz").write_bytes(first + gzip_cut_after("".join(rows[150:]), 100))
    assert text  # the file holds the header, then rows 1..250 readable
    return lambda: read_sumstats(tmp / "s.ma.bgz"), "s.ma.bgz", 252, None


def sumstats_not_utf8(tmp, bfile):
    (tmp / "s.ma").write_bytes((MA_HEADER + MA_ROW + MA_ROW).encode()
                               + b"rs\xe9 A G 0.2 0.1 0.05 0.05 1000\n")
    return lambda: read_sumstats(tmp / "s.ma"), "s.ma", 4, None


def bim_not_utf8(tmp, bfile):
    prefix = copy_bfile(bfile, tmp / "u")
    lines = Path(f"{prefix}.bim").read_bytes().splitlines(keepends=True)
    lines[5] = lines[5].replace(b"\t", b"\t\xff", 1)  # a Latin-1 byte starts the SNP id
    Path(f"{prefix}.bim").write_bytes(b"".join(lines))
    return lambda: read_bim(f"{prefix}.bim"), "u.bim", 6, None


def phen_is_a_directory(tmp, bfile):
    (tmp / "p.phen").mkdir()
    return lambda: read_phen(tmp / "p.phen"), "p.phen", None, None


def genetic_map_gzip_truncated(tmp, bfile):
    text = "".join(f"rs{k} {1000 * k} {k / 100:.3f}\n" for k in range(1, 80))
    (tmp / "map.gz").write_bytes(gzip_cut_after(text, 33))
    return lambda: read_genetic_map(tmp / "map.gz"), "map.gz", 34, None


def genetic_map_missing(tmp, bfile):
    return lambda: read_genetic_map(tmp / "map.txt"), "map.txt", None, None


def ld_blocks_gzip_truncated(tmp, bfile):
    text = "Block Chrom StartBP EndBP\n" + "".join(
        f"b{k} 22 {k * 10**6} {(k + 1) * 10**6 - 1}\n" for k in range(20))
    (tmp / "blocks.gz").write_bytes(gzip_cut_after(text, 5))
    return lambda: read_ld_blocks(tmp / "blocks.gz"), "blocks.gz", 6, None


def ld_list_not_text(tmp, bfile):
    (tmp / "list.txt").write_bytes(b"a.ldm.full\nb.ldm.\xff\n")
    return lambda: read_ld_list(tmp / "list.txt"), "list.txt", 2, None


def ld_list_missing_entry(tmp, bfile):
    """An --mldm entry naming nothing: the list's line (the error named only the entry)."""
    small_ld(tmp, "present.ld")
    (tmp / "list.txt").write_text(f"{tmp / 'present.ld'}\n\n{tmp / 'absent.ldm.full'}\n")
    return lambda: read_ld_list(tmp / "list.txt"), "list.txt", 3, 1


def small_ld(tmp, name: str, layout: str = "csr") -> Path:
    """A 6-SNP LD folder (AR(1) correlations 0.5^|i-j|) in ``layout``."""
    r = 0.5 ** np.abs(np.subtract.outer(np.arange(6), np.arange(6)))
    snps = pd.DataFrame({"snp": [f"rs{k}" for k in range(6)], "chr": "22",
                         "bp": 1000 * np.arange(1, 7), "cm": 0.0, "a1": "A", "a2": "G",
                         "freq": 0.3, "n": 500})
    return LDMatrix.from_scipy(r, snps, dtype="int16").save(tmp / name, layout=layout)


def ld_data_truncated(tmp, bfile):
    folder = small_ld(tmp, "a.ld")
    data = (folder / "data.npy").read_bytes()
    (folder / "data.npy").write_bytes(data[:-5])
    return lambda: open_ld(folder), "data.npy", None, None


def ld_upper_offsets_truncated(tmp, bfile):
    folder = small_ld(tmp, "u.ld", layout="upper")
    data = (folder / "offsets.npy").read_bytes()
    (folder / "offsets.npy").write_bytes(data[:-2])
    return lambda: open_ld(folder), "offsets.npy", None, None


def ld_indices_not_npy(tmp, bfile):
    folder = small_ld(tmp, "g.ld")
    (folder / "indices.npy").write_bytes(b"not an array at all")
    return lambda: open_ld(folder), "indices.npy", None, None


def ld_data_wrong_dtype(tmp, bfile):
    folder = small_ld(tmp, "f.ld")
    np.save(folder / "data.npy", np.load(folder / "data.npy").astype(np.float64))
    return lambda: open_ld(folder), "data.npy", None, None


def ld_snp_table_cut(tmp, bfile):
    folder = small_ld(tmp, "s.ld")
    text = (folder / "snps.tsv").read_text()
    (folder / "snps.tsv").write_text(text[:text.rindex("\t22\t") + 4])  # last row: snp, chr
    return lambda: open_ld(folder), "snps.tsv", 7, 3


@pytest.fixture(scope="module")
def eigen_folder(bfile22, tmp_path_factory):
    snps = Genotypes.open(bfile22).snps["snp"].iloc[:20]
    blocks = eigen_decompose_blocks(bfile22, block_snps=10, extract=set(snps), progress=False)
    return blocks.save(tmp_path_factory.mktemp("eigen") / "e.ld")


def eigen_case(mutate, filename, line=None, column=None):
    def case(tmp, bfile, folder):
        copy = Path(shutil.copytree(folder, tmp / "e.ld"))
        mutate(copy)
        return lambda: EigenBlocks.load(copy), filename, line, column
    case.__name__ = mutate.__name__
    return case


def eigenvectors_truncated(folder):
    data = (folder / "eigenvectors.npy").read_bytes()
    (folder / "eigenvectors.npy").write_bytes(data[:-4])


def eigenvalues_from_another_build(folder):
    np.save(folder / "eigenvalues.npy", np.load(folder / "eigenvalues.npy")[:-1])


def eigen_meta_invalid_json(folder):
    (folder / "meta.json").write_text('{"format": "bayesmix-ld-eigen",\n "version": }')


EIGEN_CASES = [eigen_case(eigenvectors_truncated, "eigenvectors.npy"),
               eigen_case(eigenvalues_from_another_build, "eigenvalues.npy"),
               eigen_case(eigen_meta_invalid_json, "meta.json", 2, 13)]


CASES = [truncated_bed, bim_bed_mismatch, bed_bad_magic, bim_non_numeric_position, bim_missing_position,
         fam_missing_field, missing_bim, keep_file_one_field, sumstats_missing_column,
         sumstats_no_effect_column, sumstats_non_numeric, sumstats_short_row,
         sumstats_long_row_tab, sumstats_empty, sumstats_header_only, sumstats_duplicated_header,
         column_map_unknown_target, column_map_name_not_in_header,
         reference_duplicated_snps, region_non_integer, phen_all_missing, phen_no_shared_ids,
         phen_non_numeric, phen_duplicated_ids, phen_ragged, phen_bad_mpheno, qcovar_non_numeric,
         covar_missing_file, qcovar_collinear, qcovar_duplicated_column, fam_duplicated_ids,
         phen_gzip_truncated, qcovar_gzip_bad_crc, covar_gzip_truncated_in_first_line,
         keep_list_gzip_truncated, snp_list_gzip_truncated, regions_gzip_bad_crc,
         sumstats_gzip_truncated, sumstats_bgzip_second_member_truncated, sumstats_not_utf8,
         bim_not_utf8, phen_is_a_directory, genetic_map_gzip_truncated, genetic_map_missing,
         ld_blocks_gzip_truncated, ld_list_not_text, ld_list_missing_entry, ld_data_truncated,
         ld_upper_offsets_truncated, ld_indices_not_npy, ld_data_wrong_dtype, ld_snp_table_cut]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_bad_input_names_file_line_column(tmp_path, bfile22, case):
    check_refusal(*case(tmp_path, bfile22))


@pytest.mark.parametrize("case", EIGEN_CASES, ids=[c.__name__ for c in EIGEN_CASES])
def test_bad_eigen_folder_names_file(tmp_path, bfile22, eigen_folder, case):
    check_refusal(*case(tmp_path, bfile22, eigen_folder))


def check_refusal(call, filename, line, column):
    with pytest.raises(InputError) as err:
        call()
    assert err.value.path is not None and Path(err.value.path).name == filename, str(err.value)
    assert err.value.line == line, str(err.value)
    assert err.value.column == column, str(err.value)
    assert filename in str(err.value)


def test_collinearity_threshold_against_constructed_remainders():
    """q3 = 2 q1 - q2 + remainder, the remainder orthogonal to (1, q1, q2) and scaled to a
    chosen share of q3's SD: refused exactly when that share is below the 1e-4 tolerance.
    Age, age^2, age^3 (shares ~0.07 and ~0.006) are a legitimate design and pass."""
    rng = np.random.default_rng(8)
    n = 400
    q1, q2 = rng.normal(50, 10, n), rng.normal(0, 1, n)
    base = np.column_stack([np.ones(n), q1, q2])
    noise = rng.normal(size=n)
    noise -= base @ np.linalg.lstsq(base, noise, rcond=None)[0]  # orthogonal to 1, q1, q2
    combination = 2 * q1 - q2
    names = ["intercept", "q1", "q2", "q3"]
    sources = [(None, None), ("q.txt", 3), ("q.txt", 4), ("q.txt", 5)]
    for share in (1e-7, 3e-5, 9e-5, 1.1e-4, 1e-3, 0.1):
        # remainder SD / q3 SD = share: |r|^2 = share^2 (|c|^2 + |r|^2), c = centred combination
        c = combination - combination.mean()
        scale = share * np.linalg.norm(c) / np.sqrt(1 - share**2) / np.linalg.norm(noise)
        q3 = combination + scale * noise
        design = np.column_stack([base, q3])
        if share < 1e-4:
            with pytest.raises(InputError) as err:
                check_design(design, names, sources)
            assert (err.value.path, err.value.column) == ("q.txt", 5)
            assert "q3 is a linear combination of the intercept and q1, q2" in err.value.message
            assert f"up to a rest of {share:.2g} of its SD" in err.value.message
        else:
            check_design(design, names, sources)
    age = rng.uniform(40, 70, n).round()
    check_design(np.column_stack([np.ones(n), age, age**2, age**3]),
                 ["intercept", "age", "age2", "age3"], [(None, None)] + [("q.txt", 3)] * 3)


def test_per_snp_phenotypic_variance_filter_hand_worked(tmp_path):
    """Seven SNPs at A1 frequency 0.5 (H = 0.5), N = 1000, N SE^2 = 2 unless noted, so
    V = 0.5 (2 + b^2): b = 0 -> 1 (four SNPs), b = 2 -> 3, b = 3 -> 5.5; N SE^2 = 0.4 with
    b = 0 -> 0.2. Median 1: with ratio 4, 5.5 and 0.2 are dropped, 3 is kept."""
    se = np.sqrt(2 / 1000)
    rows = [("rs1", 0, se), ("rs2", 0, se), ("rs3", 0, se), ("rs4", 0, se), ("rs5", 2, se),
            ("rs6", 3, se), ("rs7", 0, np.sqrt(0.4 / 1000))]
    (tmp_path / "s.ma").write_text(MA_HEADER + "".join(
        f"{snp} A G 0.5 {b} {float(s)!r} 0.5 1000\n" for snp, b, s in rows))
    (tmp_path / "r.bim").write_text("".join(
        f"1\t{snp}\t0\t{100 * (k + 1)}\tA\tG\n" for k, (snp, _, _) in enumerate(rows)))
    sumstats = read_sumstats(tmp_path / "s.ma")
    aligned, report = harmonise(sumstats, tmp_path / "r.bim", max_vp_ratio=4)
    assert list(aligned["SNP"]) == ["rs1", "rs2", "rs3", "rs4", "rs5"]
    assert report.steps[-1] == ("per-SNP phenotypic variance > 4 x or < 1/4 x the median", 2)
    assert "rs6 (BETA 3, SE 0.04472, N 1000: 5.5 x)" in report.notes[-1]
    assert "rs7" in report.notes[-1] and "0.2 x" in report.notes[-1]
    aligned, report = harmonise(sumstats, tmp_path / "r.bim")
    assert len(aligned) == 7  # off unless asked for (SBayes asks, with 4)
    z_only = sumstats.assign(BETA=np.nan, SE=np.nan)
    aligned, report = harmonise(z_only, tmp_path / "r.bim", max_vp_ratio=4)
    assert len(aligned) == 7 and "not tested" in report.notes[-1]
