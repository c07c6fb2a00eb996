"""Bad-input table: every malformed input raises InputError naming the file, line and column."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from bayesmix.errors import InputError
from bayesmix.io.harmonise import harmonise, read_regions
from bayesmix.io.pheno import align_samples, read_covar, read_phen, read_qcovar
from bayesmix.io.plink import Genotypes, read_id_list
from bayesmix.io.sumstats import read_sumstats

MA_HEADER = "SNP A1 A2 freq b se p N\n"
MA_ROW = "rs1 A G 0.2 0.1 0.05 0.05 1000\n"


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
    return lambda: align_samples(samples, tmp / "p.phen", tmp / "q.qcovar"), "q.qcovar", None, None


CASES = [truncated_bed, bim_bed_mismatch, bed_bad_magic, bim_non_numeric_position, bim_missing_position,
         fam_missing_field, missing_bim, keep_file_one_field, sumstats_missing_column,
         sumstats_no_effect_column, sumstats_non_numeric, sumstats_short_row,
         sumstats_long_row_tab, sumstats_empty, sumstats_header_only, sumstats_duplicated_header,
         column_map_unknown_target, column_map_name_not_in_header,
         reference_duplicated_snps, region_non_integer, phen_all_missing, phen_no_shared_ids,
         phen_non_numeric, phen_duplicated_ids, phen_ragged, phen_bad_mpheno, qcovar_non_numeric,
         covar_missing_file, qcovar_collinear]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_bad_input_names_file_line_column(tmp_path, bfile22, case):
    call, filename, line, column = case(tmp_path, bfile22)
    with pytest.raises(InputError) as err:
        call()
    assert err.value.path is not None and Path(err.value.path).name == filename, str(err.value)
    assert err.value.line == line, str(err.value)
    assert err.value.column == column, str(err.value)
    assert filename in str(err.value)
