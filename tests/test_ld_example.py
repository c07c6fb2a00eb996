"""The LD example script runs end to end and its checks hold."""

import json
import runpy
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ld_quickstart.py"


def test_ld_quickstart_example(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), "--out", str(tmp_path), "--snps", "800"])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["snps"] == 800
    assert 0 < summary["int16_max_error"] <= summary["int16_bound"] + 1e-7
    assert summary["gctb_round_trip_lossless"] is True
    # the LD score of a SNP counts itself: r_jj^2 = 1
    assert summary["mean_ldsc_score"] > 1
    assert 0 < summary["pruning_weight_mean"] < 1
    assert (tmp_path / "chr22.scores.tsv").exists()
