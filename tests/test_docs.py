"""Every shell and Python block of README.md and docs/*.md runs as written, on the data shipped
with the package, and the quick starts recover the truth of the traits they simulate.

Rules the pages follow (checked here):

- a fenced block is tagged ``bash`` (run with ``bash -e``, the venv's ``bin`` first on PATH),
  ``python`` (run in a subprocess) or ``text`` (file layouts, option synopses, equations:
  not run). Any other or no tag fails, and so does an indented code block, so a new example
  cannot be added without being run;
- the blocks of one page run in order in one temporary directory (later blocks use earlier
  outputs); pages start from ``bayesmix example-data --out data``;
- a comment ``# writes: NAME ...`` in a block lists files the block says it writes; each must
  exist after the block;
- the README's first block (install, demo, test suite) is the one block not run here: the
  demo has its own test (tests/test_demo.py).

The page runs are slow (3-60 s each, about 3.5 minutes in all on 2 shared cores, one thread
per process); the tag checks are fast.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md"] + sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))
RUN = ("bash", "python")
NOT_RUN = ("text",)
FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)(.*)$")
WRITES = re.compile(r"#\s*writes:\s*(.+)$")
#: seconds one block may take (the slowest, MiXeR's fit and Q-Q, take under a minute)
BLOCK_TIMEOUT = 900


@dataclass
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    tag: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    def writes(self) -> list[str]:
        """Files the block's ``# writes:`` comments name."""
        return [name for match in map(WRITES.search, self.code.splitlines()) if match
                for name in match.group(1).split()]


def read_blocks(page: str) -> list[Block]:
    """The fenced code blocks of a page, in order (CommonMark fences: ``` or ~~~, at most 3
    spaces of indentation, closed by a fence of the same character at least as long)."""
    lines = (ROOT / page).read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, tag = opening.group(2), opening.group(3)
        body, j = [], i + 1
        while j < len(lines) and not re.match(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$",
                                               lines[j]):
            body.append(lines[j])
            j += 1
        assert j < len(lines), f"{page}:{i + 1}: code fence never closed"
        blocks.append(Block(page, i + 1, tag, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def indented_code(page: str) -> list[int]:
    """Lines that start an indented (untagged) code block: indented by 4 or more spaces after
    a blank line, outside fences and outside list items (whose continuation lines are
    indented by their marker's width)."""
    found, in_fence, in_list, previous_blank = [], None, False, True
    for number, line in enumerate((ROOT / page).read_text().splitlines(), start=1):
        fence = FENCE.match(line)
        if in_fence:
            if re.match(rf"^ {{0,3}}{in_fence[0]}{{{len(in_fence)},}}\s*$", line):
                in_fence = None
            continue
        if fence:
            in_fence = fence.group(2)
            continue
        if not line.strip():
            previous_blank = True
            continue
        indent = len(line) - len(line.lstrip(" "))
        if re.match(r"^\s*([-*+]|\d+[.)])\s", line):
            in_list = True
        elif indent == 0:
            in_list = False
        if indent >= 4 and previous_blank and not in_list:
            found.append(number)
        previous_blank = False
    return found


def runnable(page: str) -> list[Block]:
    blocks = [b for b in read_blocks(page) if b.tag in RUN]
    if page == "README.md":  # install + demo + the test suite: not run here
        blocks = [b for b in blocks if b.line != read_blocks(page)[0].line]
    return blocks


RUNNABLE_PAGES = [page for page in PAGES if runnable(page)]


# --------------------------------------------------------------------- the pages' structure
def test_every_block_is_tagged_run_or_text():
    problems = []
    for page in PAGES:
        problems += [f"{b.where}: tag {b.tag!r} (use {' / '.join(RUN + NOT_RUN)})"
                     for b in read_blocks(page) if b.tag not in RUN + NOT_RUN]
        problems += [f"{page}:{n}: indented code block (use a fenced block with a tag)"
                     for n in indented_code(page)]
    assert not problems, "\n".join(problems)


def test_readme_first_block_is_the_install_and_demo():
    first = read_blocks("README.md")[0]
    assert first.tag == "bash"
    assert "pip install" in first.code and "bayesmix demo" in first.code


def test_parsers_on_a_made_up_page(tmp_path, monkeypatch):
    """The block reader and the indented-code finder on a page whose answer is known."""
    page = tmp_path / "docs" / "x.md"
    page.parent.mkdir()
    page.write_text("intro\n\n```bash\necho a  # writes: a b\n```\n\n- item\n\n    continued\n"
                    "\ntext\n\n    indented code\n~~~~\n```\n~~~~\n````text\nx\n````\n```\nz\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    blocks = read_blocks("docs/x.md")
    assert [(b.line, b.tag) for b in blocks] == [(3, "bash"), (14, ""), (17, "text"), (20, "")]
    assert blocks[0].writes() == ["a", "b"] and blocks[1].code == "```\n"
    assert indented_code("docs/x.md") == [13]


def test_example_data_copies_the_shipped_files(tmp_path, capsys):
    from bayesmix.cli.main import main
    from bayesmix.data import example_bfile

    assert main(["example-data", "--out", str(tmp_path / "data")]) == 0
    for chrom in (21, 22):
        for suffix in (".bed", ".bim", ".fam"):
            copy = tmp_path / "data" / f"chr{chrom}{suffix}"
            assert copy.read_bytes() == Path(f"{example_bfile(chrom)}{suffix}").read_bytes()
    assert "503 people, 10,000 SNPs of chromosome 22" in capsys.readouterr().out
    # the folder is created, its parent is not (a typo must not scatter files)
    assert main(["example-data", "--out", str(tmp_path / "no" / "data")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


# ----------------------------------------------------------------------------- running them
def run_page(page: str, workdir: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("MPLBACKEND", "Agg")
    # One thread per process: the 2-core CI machine is shared, and a multi-threaded BLAS
    # competing for busy cores slowed an eigen-block build 8-fold (2.2 s vs 18 s). Results
    # do not depend on thread counts.
    for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                 "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    for number, block in enumerate(runnable(page), start=1):
        script = workdir / f".block{number}.{'sh' if block.tag == 'bash' else 'py'}"
        script.write_text(block.code)
        command = ["bash", "-e", str(script)] if block.tag == "bash" else [sys.executable,
                                                                             str(script)]
        done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=BLOCK_TIMEOUT)
        (workdir / f".block{number}.out").write_text(done.stdout)
        assert done.returncode == 0, (
            f"{block.where}: the {block.tag} block exited with {done.returncode}\n{block.code}"
            f"--- stdout (end) ---\n{done.stdout[-3000:]}\n--- stderr (end) ---\n"
            f"{done.stderr[-3000:]}")
        missing = [name for name in block.writes() if not (workdir / name).exists()]
        assert not missing, f"{block.where}: says it writes {missing}, which do not exist"


def block_output(workdir: Path, page: str, tag: str, index: int = -1) -> str:
    """stdout of the page's ``index``-th runnable block of this tag."""
    numbers = [n for n, b in enumerate(runnable(page), start=1) if b.tag == tag]
    return (workdir / f".block{numbers[index]}.out").read_text()


def par_res(path) -> pd.DataFrame:
    """GCTB's .parRes: a header ``Mean SD ...``, then name and values per row."""
    return pd.read_csv(path, sep=r"\s+", skiprows=1, header=None, index_col=0,
                       names=["name", "mean", "sd", "ess", "r_hat"])


def truth(path) -> dict:
    return json.loads(Path(path).read_text())


# --------------------------------------------------------------- what each page must recover
def check_sbayes(w: Path) -> None:
    """SBayesR with the in-sample LD recovers hsq = b'Rb (0.3 here). The band: over seeds 1-3,
    SBayesR and SBayesC on these 2,000 SNPs gave 0.284-0.301 (-5.4% to +0.4%; posterior SD
    0.002, the rest is the draw of the noise and the prior's shrinkage of small effects), so
    10% leaves room for another machine's chain. Without --ld-in-sample the same statistics
    gave 19-31% low: the page's claim holds if it is at least 10% low. The two-chromosome
    SBayesC run targets 0.3 + 0.2."""
    h2 = truth(w / "trait.truth.json")["h2"]
    assert h2 == 0.3
    fit = par_res(w / "trait.parRes")
    assert abs(fit.loc["hsq", "mean"] / h2 - 1) < 0.10, fit
    reference = par_res(w / "trait.reference.parRes")
    assert reference.loc["hsq", "mean"] < 0.9 * h2, reference
    # a GWAS of the panel's own 503 people with their full LD (in-sample, detected): the
    # posterior is wide, so the band is 3 posterior SDs around the realised h2 of the sample
    # (seeds 1-3 of this setting: within 1 SD)
    panel = par_res(w / "panel.parRes").loc["hsq"]
    assert "in-sample LD" in (w / "panel.log").read_text()
    assert abs(panel["mean"] - truth(w / "panel.truth.json")["h2_sample"][0]) < 3 * panel["sd"]
    both = par_res(w / "both.parRes")
    total = h2 + truth(w / "trait21.truth.json")["h2"]
    assert abs(both.loc["hsq", "mean"] / total - 1) < 0.10, both
    # the Python block runs the same chain (same data, settings and seed) as the command line
    python_hsq = float(block_output(w, "docs/sbayes.md", "python").split()[-1])
    assert python_hsq == pytest.approx(fit.loc["hsq", "mean"], abs=1e-6)


def check_formats(w: Path) -> None:
    """Munging the generic file (alleles exchanged, effects negated, no N or frequencies)
    gives back the simulated statistics: same SNPs, alleles, effects and SEs (to the 8
    digits the page's awk prints), N from --n, frequencies of the reference (here the same
    503 people the GWAS was simulated on, so equal to the GWAS's own)."""
    original = pd.read_csv(w / "gwas.ma", sep=" ")
    munged = pd.read_csv(w / "gwas.munged.ma", sep=" ")
    assert list(munged["SNP"]) == list(original["SNP"])
    assert (munged[["A1", "A2"]].to_numpy() == original[["A1", "A2"]].to_numpy()).all()
    for column in ("b", "se", "freq"):
        np.testing.assert_allclose(munged[column], original[column], rtol=1e-6, atol=1e-9)
    assert (munged["N"] == 503).all()
    qc = pd.read_csv(w / "gwas.munged.qc.tsv", sep="\t")
    assert qc["dropped"].sum() == 0


def check_readme(w: Path) -> None:
    """GCTB's BayesR example on 503 people: the posterior mean of hsq is within 3 posterior SDs
    of the realised h2 of the simulated trait (its posterior SD, ~0.08, is the sampling error
    of the estimate at this n; 1,000 iterations add a Monte Carlo error well below it)."""
    fit = par_res(w / "test.parRes").loc["hsq"]
    assert abs(fit["mean"] - truth(w / "test.truth.json")["h2_sample"][0]) < 3 * fit["sd"]


def check_simulate(w: Path) -> None:
    """The statistics follow the model the page states. Marginal regression: the 50 causal
    SNPs' mean chi-square is well above the others' (h2 = 0.5 over 50 SNPs in 503 people).
    Drawn from LD: b'Rb = h2 exactly (the effects are rescaled to it) and z = u + e with
    u = sqrt(N) R b, e ~ N(0, R): the regression of z on u has slope 1 within 4 of its standard
    errors sqrt(u'Ru) / u'u, computed with the saved matrix and the truth's effects."""
    from bayesmix.ld import LDMatrix

    gwas = pd.read_csv(w / "bayesc.ma", sep=" ")
    causal = gwas["SNP"].isin(truth(w / "bayesc.truth.json")["causal"]["snp"])
    chi2 = (gwas["b"] / gwas["se"]) ** 2
    assert chi2[causal].mean() > 2 * chi2[~causal].mean()

    r = LDMatrix.load(w / "chr22.ld").to_scipy().astype(np.float64)
    record = truth(w / "mixer.truth.json")
    b = np.zeros(r.shape[0])
    b[record["causal"]["index"]] = record["causal"]["b_std"]
    assert b @ (r @ b) == pytest.approx(0.3, rel=1e-5)
    stats = pd.read_csv(w / "mixer.ma", sep=" ")
    z = (stats["b"] / stats["se"]).to_numpy()
    u = np.sqrt(100_000) * (r @ b)
    slope, se = u @ z / (u @ u), np.sqrt(u @ (r @ u)) / (u @ u)
    assert abs(slope - 1) < 4 * se
    assert "--ld-in-sample" in record["gwas"]["ld_note"]


def check_alphabet(w: Path) -> None:
    """BayesC (command line, two chains) and BayesR (Python) on 503 people: the posterior mean
    of hsq within 3 posterior SDs of the realised h2 of the simulated trait (the posterior SD,
    ~0.06, is the sampling error at this n), and the two chains agree (R-hat of hsq < 1.1,
    1,500 iterations). The composed model hands the swapped hyperpriors to the Markov-blanket
    step, as the page says."""
    h2 = truth(w / "trait.truth.json")["h2_sample"][0]
    for name in ("trait", "trait.py"):
        fit = par_res(w / f"{name}.parRes").loc["hsq"]
        assert abs(fit["mean"] - h2) < 3 * fit["sd"], (name, fit)
        assert fit["r_hat"] < 1.1, (name, fit)
    steps = block_output(w, "docs/bayes-alphabet.md", "python").splitlines()[0]
    assert steps.count("MarkovBlanketMetropolis") == 2, steps


def within(ci: dict, value: float, margin: float = 0.0) -> bool:
    """``value`` inside a reported 95% interval, each end widened by ``margin`` (relative)."""
    return ci["lower"] * (1 - margin) <= value <= ci["upper"] * (1 + margin)


def check_mixer(w: Path) -> None:
    """fit1 on the two-chromosome trait (h2 0.2 + 0.2, 100 + 100 causal SNPs): the truth inside
    the reported 95% intervals of h2 and of the number of causal variants, widened by 10% (one
    seed; over 10 replicates per architecture those intervals covered the truth 10/10,
    docs/mixer.md; the margin absorbs the realised h2 of the drawn effects differing from the
    prior's). The fast-likelihood fit of the native command: h2 likewise (its nc is biased
    upwards for sparse traits, as the page says). The Python fit is the command line's fit."""
    h2 = sum(truth(w / f"T.chr{c}.truth.json")["h2"] for c in (21, 22))
    n_causal = sum(truth(w / f"T.chr{c}.truth.json")["n_causal"] for c in (21, 22))
    fit = truth(w / "T.fit.json")
    assert within(fit["ci"]["h2"], h2, 0.1) and within(fit["ci"]["nc"], n_causal, 0.1), fit["ci"]
    assert within(truth(w / "T.native.json")["ci"]["h2"], h2, 0.1)
    tested = truth(w / "T.test.json")
    assert {"qqplot", "power"} <= set(tested)
    printed = block_output(w, "docs/mixer.md", "python").splitlines()[0]
    assert f"'pi': {fit['params']['pi']!r}" in printed, (printed, fit["params"])


def check_bivariate(w: Path) -> None:
    """fit2 on a pair with 100 shared causal SNPs and effect correlation 0.5 (50 unique to
    each): the shared count and the realised rg of the drawn effects (genetic covariance over
    h2) inside fit2's 95% intervals widened by 20% (one seed; the page's recovery table shows
    estimates pulled from the boundaries by up to 0.16 of the share), and the data prefer more
    sharing than rg alone implies (AIC against minimal overlap > 0); the native fit2 without
    the full step: the shared count and the AIC likewise. The univariate fits: h2 and causal
    count (150 each) inside their intervals widened by 10%."""
    record = truth(w / "AB.truth.json")
    fit = truth(w / "AB.fit.json")
    n12 = record["params"]["pi12"] * record["n_snps"]
    rg = record["gwas"]["genetic_cov"] / np.sqrt(np.prod(record["h2"]))
    assert within(fit["ci"]["nc12"], n12, 0.2), fit["ci"]["nc12"]
    assert within(fit["ci"]["rg"], rg, 0.2), (fit["ci"]["rg"], rg)
    assert fit["criteria"]["best_vs_minimal_overlap_AIC"] > 0
    for t in (1, 2):
        uni = truth(w / f"T{t}.fit.json")["ci"]
        assert within(uni["h2"], record["h2"][t - 1], 0.1), uni["h2"]
        assert within(uni["nc"], 150, 0.1), uni["nc"]
    native = truth(w / "AB.native.json")  # fast likelihood only: the shared count, the AIC
    assert within(native["ci"]["nc12"], n12, 0.2), native["ci"]["nc12"]
    assert native["criteria"]["best_vs_minimal_overlap_AIC"] > 0


def check_ld(w: Path) -> None:
    """The window LD against brute force (numpy's correlation of the allele counts of the
    first 300 SNPs, every stored pair), the merged pieces equal to the matrix built in one go,
    and the eigen blocks keeping at least the asked 99.5% of each block's variance."""
    from bayesmix.io.plink import Genotypes
    from bayesmix.ld import LDMatrix
    from bayesmix.ld.eigen import EigenBlocks

    window = LDMatrix.load(w / "chr22.win.ld").to_scipy().tocsr()
    x = Genotypes.open(w / "data" / "chr22").read(np.arange(300), standardize=False)
    dense = np.corrcoef(x, rowvar=False)
    block = window[:300, :300].tocoo()
    np.testing.assert_allclose(block.data, dense[block.row, block.col], atol=1e-6)
    merged = LDMatrix.load(w / "merged.ld").to_scipy()
    assert (merged != window).nnz == 0
    assert (EigenBlocks.load(w / "chr22.eigen").explained_share() >= 0.995 - 1e-9).all()
    assert block_output(w, "docs/ld.md", "python").splitlines()[-1] == "[5 2]"


CHECKS = {
    "docs/bayes-alphabet.md": check_alphabet,
    "docs/ld.md": check_ld,
    "docs/mixer-bivariate.md": check_bivariate,
    "docs/mixer.md": check_mixer,
    "README.md": check_readme,
    "docs/simulate.md": check_simulate,
    "docs/formats.md": check_formats,
    "docs/sbayes.md": check_sbayes,
}


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_page_runs_on_shipped_data(page, tmp_path):
    run_page(page, tmp_path)
    if page in CHECKS:
        CHECKS[page](tmp_path)
