"""The README's demo runs end to end and its outputs are consistent with the simulated truth."""

import json

import numpy as np
import pandas as pd

from bayesmix.cli.main import main


def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--seed", "7"]) == 0
    printed = capsys.readouterr().out
    assert "step 5/5" in printed and "demo finished" in printed

    raw = pd.read_csv(f"{out}.sumstats.gz", sep="\t")
    munged = pd.read_csv(f"{out}.munged.sumstats.gz", sep="\t")
    qc = pd.read_csv(f"{out}.munged.qc.tsv", sep="\t")
    # Harmonising a GWAS that is already aligned to its own reference changes nothing.
    assert qc["dropped"].sum() == len(raw) - len(munged)
    merged = raw.merge(munged, on="SNP", suffixes=("_raw", "_munged"))
    np.testing.assert_allclose(merged["Z_raw"], merged["Z_munged"], rtol=1e-6)

    truth = json.loads(open(f"{out}.truth.json").read())
    causal = set(truth["causal"]["snp"])
    chi2 = raw.set_index("SNP")["Z"] ** 2
    # 50 causal SNPs with h2 = 0.5 among 503 people: their mean chi-square clearly exceeds
    # the null's (about 1; LD spreads some signal to neighbours).
    assert chi2[chi2.index.isin(causal)].mean() > 2 * chi2[~chi2.index.isin(causal)].mean()

    # The MiXeR part: 150 causal SNPs, h2 = 0.3, N = 100,000, drawn from the same LD that is
    # fitted. The fit must recover the truth within its own 95% interval widened by a margin
    # (one seed; the recovery tables over replicates are in tests/test_mixer_fit.py).
    fit = json.loads(open(f"{out}.mixer.fit.json").read())
    mixer_truth = json.loads(open(f"{out}.mixer.truth.json").read())
    h2, nc = fit["ci"]["h2"], fit["ci"]["nc"]
    assert 0.8 * h2["lower"] <= mixer_truth["h2"] <= 1.2 * h2["upper"]
    assert 0.7 * nc["lower"] <= mixer_truth["n_causal"] <= 1.3 * nc["upper"]
    assert "MiXeR estimate vs truth" in printed
