"""`bayesmix ld` command line: build, pieces + merge, convert, scores, prune, errors."""

import numpy as np
import pandas as pd

from bayesmix.cli.main import main
from bayesmix.io.plink import read_bim
from bayesmix.ld import LDMatrix, read_gctb_ldm


def test_build_pieces_merge_convert_scores_prune(tmp_path, bfile21, capsys):
    snps = tmp_path / "snps.txt"
    snps.write_text("\n".join(read_bim(f"{bfile21}.bim")["snp"].iloc[:400]) + "\n")
    common = ["ld", "--bfile", str(bfile21), "--extract", str(snps), "--kind", "r2",
              "--r2min", "0.02", "--window-kb", "500", "--no-progress"]
    assert main(common + ["--out", str(tmp_path / "whole.ld")]) == 0
    for rng in ("1-150", "151-400"):
        assert main(common + ["--snp", rng, "--out", str(tmp_path / f"p{rng}.ld")]) == 0
    assert main(["ld", "merge", str(tmp_path / "p1-150.ld"), str(tmp_path / "p151-400.ld"),
                 "--out", str(tmp_path / "merged.ld")]) == 0
    whole = LDMatrix.load(tmp_path / "whole.ld")
    merged = LDMatrix.load(tmp_path / "merged.ld")
    assert merged.is_square and whole.shape == merged.shape == (400, 400)
    np.testing.assert_allclose(merged.to_scipy().toarray(), whole.to_scipy().toarray(), atol=1e-7)
    capsys.readouterr()
    assert main(["ld", "merge", str(tmp_path / "p151-400.ld"), "--out",
                 str(tmp_path / "part.ld")]) == 0        # a piece missing: said so
    assert ("cover 250 of the 400 rows (first missing: row 1, 150 in all)"
            in capsys.readouterr().out)

    assert main(["ld", "convert", str(tmp_path / "whole.ld"), "--to", "gctb",
                 "--out", str(tmp_path / "g")]) == 0
    back = read_gctb_ldm(tmp_path / "g.ldm.sparse")
    assert back.to_scipy().toarray().tobytes() == whole.to_scipy().toarray().tobytes()
    assert main(["ld", "convert", str(tmp_path / "g.ldm.sparse.info"), "--to", "bayesmix",
                 "--dtype", "int16", "--out", str(tmp_path / "q.ld")]) == 0
    assert LDMatrix.load(tmp_path / "q.ld").dtype == "int16"

    assert main(["ld", "scores", str(tmp_path / "whole.ld"), "--out", str(tmp_path / "s.tsv")]) == 0
    scores = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    r = whole.to_scipy().toarray().astype(np.float64)
    np.testing.assert_allclose(scores["ldsc"], (r**2).sum(axis=1), rtol=1e-5)
    assert main(["ld", "prune", str(tmp_path / "whole.ld"), "--passes", "16", "--seed", "3",
                 "--out", str(tmp_path / "w.tsv")]) == 0
    weights = pd.read_csv(tmp_path / "w.tsv", sep="\t")
    assert len(weights) == 400 and weights["weight"].between(0, 1).all()
    assert (weights["weight"] * 16).round(6).mod(1).eq(0).all()


def test_errors_exit_1_without_traceback(tmp_path, bfile21, capsys):
    assert main(["ld", "banana", "--out", str(tmp_path / "x")]) == 1
    assert "unknown action" in capsys.readouterr().err
    assert main(["ld", "--bfile", str(bfile21), "--kind", "full", "--snp", "5-2",
                 "--out", str(tmp_path / "x")]) == 1
    assert "--snp: 5-2: expected 1 <= i <= j" in capsys.readouterr().err
    assert main(["ld", "--bfile", str(tmp_path / "missing"), "--kind", "full",
                 "--out", str(tmp_path / "x")]) == 1
    assert "PLINK fileset not found" in capsys.readouterr().err
    assert main(["ld", "convert", str(tmp_path / "nothing.ld"), "--to", "text",
                 "--out", str(tmp_path / "x")]) == 1
    capsys.readouterr()
    # refused before any LD is computed (it was a ValueError traceback after the build)
    assert main(["ld", "--bfile", str(bfile21), "--kind", "full", "--snp", "1-50",
                 "--layout", "upper", "--out", str(tmp_path / "x")]) == 1
    assert "--layout upper stores square matrices" in capsys.readouterr().err


def test_eigen_action(tmp_path, bfile21):
    from bayesmix.ld import EigenBlocks

    snps = tmp_path / "snps.txt"
    snps.write_text("\n".join(read_bim(f"{bfile21}.bim")["snp"].iloc[:200]) + "\n")
    assert main(["ld", "eigen", "--bfile", str(bfile21), "--extract", str(snps),
                 "--block-snps", "80", "--prop", "0.95", "--no-progress",
                 "--out", str(tmp_path / "eig")]) == 0
    eig = EigenBlocks.load(tmp_path / "eig")
    assert eig.n_blocks == 3 and np.all(eig.explained_share() >= 0.95)
