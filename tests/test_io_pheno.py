"""GCTA phenotype/covariate readers and sample alignment on hand-made files."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesmix.errors import InputError
from bayesmix.io.pheno import align_samples, read_covar, read_phen, read_qcovar
from bayesmix.io.plink import Genotypes


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def fam_samples():
    return pd.DataFrame({"fid": ["f1", "f2", "f3", "f4", "f5", "f6"],
                         "iid": ["a", "b", "c", "d", "e", "f"]})


def test_read_phen_mpheno_and_missing_codes(tmp_path):
    path = write(tmp_path / "t.phen", "FID IID y1 y2\nf1 a 1.5 -9\nf2 b NA 2\n\nf3 c -9 3e-1\n")
    y1 = read_phen(path)
    assert y1[["fid", "iid"]].values.tolist() == [["f1", "a"], ["f2", "b"], ["f3", "c"]]
    np.testing.assert_array_equal(y1["y"], [1.5, np.nan, np.nan])
    np.testing.assert_array_equal(read_phen(path, mpheno=2)["y"], [np.nan, 2.0, 0.3])


def test_qcovar_and_covar_readers(tmp_path):
    q = read_qcovar(write(tmp_path / "q", "f1 a 1 2.5\nf2 b NA 3\n"))
    assert list(q.columns) == ["fid", "iid", "qcovar1", "qcovar2"]
    np.testing.assert_array_equal(q["qcovar1"], [1.0, np.nan])
    c = read_covar(write(tmp_path / "c", "f1 a male batch2\nf2 b female -9\n"))
    assert c["covar1"].tolist() == ["male", "female"]
    assert c["covar2"].iloc[0] == "batch2" and pd.isna(c["covar2"].iloc[1])


def test_align_samples_counts_and_design(tmp_path, fam_samples):
    # f1 missing y; f2 absent from phen; f4 missing qcovar; f5 absent from covar; f6 missing
    # covar; zz not genotyped; f3, f7, f8, f9 complete.
    phen = write(tmp_path / "p", "f6 f 6\nf5 e 5\nf4 d 4\nf3 c 3\nf1 a -9\nzz zz 9\nf7 g 7\nf9 i 9\nf8 h 8\n")
    qcovar = write(tmp_path / "q", "f3 c 0.5\nf4 d NA\nf5 e 1.5\nf6 f 2\nf1 a 0\nf7 g -1\nf8 h 3\nf9 i 4\n")
    covar = write(tmp_path / "c", "f3 c B\nf4 d A\nf6 f NA\nf1 a A\nf2 b C\nf7 g A\nf8 h B\nf9 i A\n")
    fam = pd.concat([fam_samples, pd.DataFrame({"fid": ["f7", "f8", "f9"], "iid": ["g", "h", "i"]})], ignore_index=True)
    out = align_samples(fam, phen, qcovar, covar)
    assert out.counts == {
        "genotyped samples": 9,
        "not in the phenotype file": 1,       # f2
        "phenotype missing": 1,               # f1
        "not in the quantitative covariate file": 0,
        "quantitative covariate missing": 1,  # f4
        "not in the discrete covariate file": 1,  # f5
        "discrete covariate missing": 1,      # f6
        "kept": 4,
    }
    assert out.index.tolist() == [2, 6, 7, 8]     # genotype order: f3, f7, f8, f9
    assert out.samples["iid"].tolist() == ["c", "g", "h", "i"]
    np.testing.assert_array_equal(out.y, [3.0, 7.0, 8.0, 9.0])
    assert out.design_columns == ["intercept", "qcovar1", "covar1=B"]  # reference level A
    np.testing.assert_array_equal(out.design, [[1, 0.5, 1], [1, -1, 0], [1, 3, 1], [1, 4, 0]])
    assert "kept" in str(out)


def test_align_samples_on_shipped_fam(tmp_path, bfile22):
    geno = Genotypes.open(bfile22)
    ids = geno.samples.iloc[::-2]  # every other sample, reversed file order
    text = "".join(f"{f} {i} {k}\n" for k, (f, i) in enumerate(ids.itertuples(index=False)))
    out = align_samples(geno.samples, write(tmp_path / "p.phen", text))
    assert out.counts["kept"] == len(ids)
    assert (np.diff(out.index) > 0).all()
    expected = dict(zip(ids["iid"], range(len(ids))))
    np.testing.assert_array_equal(out.y, [expected[i] for i in out.samples["iid"]])
    assert out.design.shape == (len(ids), 1)


# ----------------------------------------------------------------- audit of the individual path
def test_minus_nine_written_as_a_float_is_missing(tmp_path, fam_samples):
    """R and pandas write -9 as -9.0 / -9.000: the same as the token -9 (as in PLINK), in the
    phenotype, quantitative and discrete covariates, and counted as missing."""
    clean = {"p": "f1 a -9\nf2 b 2\nf3 c 3\nf4 d 4\nf5 e 5\nf6 f 6\n",
             "q": "f1 a 1\nf2 b -9\nf3 c 0.5\nf4 d 2\nf5 e 1\nf6 f 3\n",
             "c": "f1 a A\nf2 b B\nf3 c -9\nf4 d A\nf5 e B\nf6 f A\n"}
    floats = {"p": clean["p"].replace("a -9", "a -9.0"),
              "q": clean["q"].replace("b -9", "b -9.000"),
              "c": clean["c"].replace("c -9", "c -9e0")}
    assert floats != clean
    runs = []
    for name, texts in (("clean", clean), ("floats", floats)):
        paths = {k: write(tmp_path / f"{name}.{k}", text) for k, text in texts.items()}
        runs.append(align_samples(fam_samples, paths["p"], paths["q"], paths["c"]))
    truth, out = runs
    assert out.counts == truth.counts
    assert out.counts["phenotype missing"] == 1
    assert out.counts["quantitative covariate missing"] == 1
    assert out.counts["discrete covariate missing"] == 1
    np.testing.assert_array_equal(out.y, truth.y)
    np.testing.assert_array_equal(out.design, truth.design)
    np.testing.assert_array_equal(read_phen(tmp_path / "floats.p")["y"],
                                  [np.nan, 2, 3, 4, 5, 6])
    # -9.5 and 9 are values, not missing codes
    np.testing.assert_array_equal(read_phen(write(tmp_path / "v", "f1 a -9.5\nf2 b 9\n"))["y"],
                                  [-9.5, 9.0])


def test_byte_order_mark_keeps_the_first_sample(tmp_path, fam_samples, bfile22):
    """A UTF-8 byte-order mark (Windows editors) before the first FID is not part of it."""
    bom = "\ufeff"
    text = "f1 a 1\nf2 b 2\nf3 c 3\n"
    for reader in (read_phen, read_qcovar, read_covar):
        plain = reader(write(tmp_path / "plain", text))
        marked = reader(write(tmp_path / "marked", bom + text))
        pd.testing.assert_frame_equal(marked, plain)
        assert marked["fid"].iloc[0] == "f1"
    out = align_samples(fam_samples, write(tmp_path / "bom.phen", bom + text))
    assert out.counts["not in the phenotype file"] == 3 and out.counts["kept"] == 3
    # --keep / --remove lists
    samples = Genotypes.open(bfile22).samples.iloc[:5]
    listed = "".join(f"{f} {i}\n" for f, i in samples.itertuples(index=False))
    kept = Genotypes.open(bfile22, keep=write(tmp_path / "keep", bom + listed))
    assert kept.samples.values.tolist() == samples.values.tolist()
    removed = Genotypes.open(bfile22, remove=write(tmp_path / "remove", bom + listed))
    assert removed.filter_counts["samples in --remove"] == 5


@pytest.mark.parametrize("value", ["inf", "-inf", "1e400"])
def test_non_finite_value_names_file_line_and_column(tmp_path, value):
    path = write(tmp_path / "t.phen", f"f1 a 1 2\nf2 b 3 {value}\n")
    with pytest.raises(InputError, match=rf"t.phen, line 2, column 4: non-finite value '{value}'"):
        read_phen(path, mpheno=2)
    with pytest.raises(InputError, match="line 2, column 4: non-finite"):
        read_qcovar(path)
    np.testing.assert_array_equal(read_phen(path, mpheno=1)["y"], [1.0, 3.0])  # other column


def test_single_level_discrete_covariate_is_refused(tmp_path, fam_samples):
    """One level over the samples kept is a copy of the intercept, as a constant
    quantitative covariate is: refused naming the file and column, never dropped."""
    phen = write(tmp_path / "p", "".join(f"{f} {i} {k}\n" for k, (f, i)
                                        in enumerate(fam_samples.itertuples(index=False))))
    covar = write(tmp_path / "c", "f1 a A x\nf2 b NA y\nf3 c A x\nf4 d A y\nf5 e A x\n"
                                  "f6 f A y\n")  # column 3: A only (f2 missing)
    with pytest.raises(InputError, match=r"c, column 3: discrete covariate covar1 has one level "
                                         r"\(A\) over the 5 samples kept"):
        align_samples(fam_samples, phen, covar=covar)
    qcovar = write(tmp_path / "q", "".join(f"{f} {i} 7\n" for f, i
                                           in fam_samples.itertuples(index=False)))
    with pytest.raises(InputError, match="q, column 3: covariate qcovar1 is constant"):
        align_samples(fam_samples, phen, qcovar)
    two = write(tmp_path / "c2", "f1 a A\nf2 b B\nf3 c A\nf4 d A\nf5 e A\nf6 f A\n")
    assert align_samples(fam_samples, phen, covar=two).design_columns == ["intercept", "covar1=B"]


def test_fewer_than_two_samples_left_is_refused(tmp_path, fam_samples):
    phen = write(tmp_path / "p", "f1 a 1\nf2 b NA\nf3 c -9.0\nzz z 4\n")
    with pytest.raises(InputError, match=r"only 1 sample has a phenotype .*phenotype missing 2.*"
                                         r"needs at least 2"):
        align_samples(fam_samples, phen)
    assert align_samples(fam_samples.iloc[:2], write(tmp_path / "p2", "f1 a 1\nf2 b 2\n")
                         ).counts["kept"] == 2
