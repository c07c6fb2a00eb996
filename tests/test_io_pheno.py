"""GCTA phenotype/covariate readers and sample alignment on hand-made files."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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
