"""The notebooks of examples/notebooks run from top to bottom and draw real figures.

Each notebook (a jupytext percent-format ``.py`` file) is converted with jupytext and executed
by nbclient in a kernel running this interpreter (the venv's, whatever ``python3`` kernel a
Jupyter installation elsewhere defines). The notebooks assert against the truth of the traits
they simulate in their own cells, so a wrong result fails here as an error of that cell.

Exiting without an error is not enough: every figure a notebook shows is decoded from its
``image/png`` output and checked to be a plot, not an empty or blank canvas: a minimum size,
drawn pixels beyond the background, many distinct pixel values (lines, text, anti-aliasing)
and at least two hues of the colour cycle. The MiXeR Q-Q plot must show the data line (C0),
the dashed model line (C3) and the grey 95% band; the Venn diagram both circles (red and blue
tints at matplotlib's alpha) and their overlap, as the simulated pair shares causal SNPs.

Every code cell that shows a figure (``plt.show()`` or ``display(Image(...))``) must have
produced one. The notebooks take 10-30 s of CPU each (one thread per process).
"""

from __future__ import annotations

import base64
import colorsys
import io
import json
import sys
from pathlib import Path

import jupytext
import nbclient
import numpy as np
import pytest
from PIL import Image as PIL_Image


ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.py"))
KERNEL = "bayesmix-notebook-test"
#: seconds one cell may take (the slowest, the MiXeR convolve fit, takes ~10 s of CPU)
CELL_TIMEOUT = 600
#: what marks a cell that shows a figure
SHOWS_FIGURE = ("plt.show()", "display(Image(")

# matplotlib's default colour cycle and the tints bayesmix.plots draws with
C0, C3 = (31, 119, 180), (214, 39, 40)
QQ_BAND = (217, 217, 217)  # fill "0.85"
VENN_ALPHA = 0.35


def tint(rgb, alpha=VENN_ALPHA, under=(255, 255, 255)):
    """``rgb`` painted with ``alpha`` over ``under``."""
    return tuple(alpha * c + (1 - alpha) * u for c, u in zip(rgb, under))


VENN_RED = tint((214, 39, 40))                   # tab:red
VENN_BLUE = tint((31, 119, 180))                 # tab:blue
VENN_BOTH = tint((31, 119, 180), under=VENN_RED)  # trait 2's circle over trait 1's


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernel spec running this interpreter, single-threaded like the rest of the suite,
    with matplotlib's inline backend whatever MPLBACKEND the test process has."""
    base = tmp_path_factory.mktemp("jupyter")
    spec = base / "kernels" / KERNEL
    spec.mkdir(parents=True)
    threads = {name: "1" for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                                      "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bayesmix tests", "language": "python",
        "env": {**threads, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(base))
        yield KERNEL


def execute(path: Path, kernel: str, workdir: Path):
    """The notebook at ``path`` executed in ``workdir``; a failing cell raises
    ``CellExecutionError`` with the cell and its traceback."""
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(notebook, kernel_name=kernel, timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return notebook


def png_outputs(cell) -> list[bytes]:
    return [base64.b64decode(out["data"]["image/png"]) for out in cell.get("outputs", [])
            if "image/png" in out.get("data", {})]


def pixels(png: bytes) -> np.ndarray:
    """(height, width, 3) int RGB of a PNG."""
    return np.asarray(PIL_Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int64)


def count_near(image: np.ndarray, rgb, tolerance: float) -> int:
    """Pixels within ``tolerance`` (sum of absolute channel differences) of ``rgb``."""
    return int((np.abs(image.reshape(-1, 3) - np.asarray(rgb)).sum(axis=1) < tolerance).sum())


def plot_problems(image: np.ndarray) -> list[str]:
    """What makes ``image`` not a real plot (empty list when it is one)."""
    height, width, _ = image.shape
    flat = image.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    background = colours[counts.argmax()]
    drawn = float((np.abs(flat - background).sum(axis=1) > 30).mean())
    chromatic = flat[flat.max(axis=1) - flat.min(axis=1) > 60]
    sample = chromatic[::max(1, len(chromatic) // 5000)]
    hues = np.array([colorsys.rgb_to_hsv(*(p / 255.0))[0] for p in sample], dtype=np.float64)
    hue_bins = np.bincount((hues * 12).astype(int) % 12, minlength=12)
    problems = []
    if width < 250 or height < 200:
        problems.append(f"{width} x {height} pixels: too small for a plot")
    if drawn < 0.02:
        problems.append(f"only {drawn:.1%} of the pixels differ from the background")
    if len(colours) < 100:
        problems.append(f"only {len(colours)} distinct pixel values")
    if (hue_bins >= 30).sum() < 2:
        problems.append(f"fewer than two hues drawn (hue histogram {hue_bins.tolist()})")
    return problems


def test_plot_checks_reject_blank_and_single_colour_images():
    """The checks on a known answer: a blank canvas, one flat grey line and a two-colour
    plot drawn with matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def render(draw) -> np.ndarray:
        fig, ax = plt.subplots(figsize=(4, 3))
        draw(ax)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        return pixels(buffer.getvalue())

    blank = render(lambda ax: ax.axis("off"))
    assert any("differ from the background" in p for p in plot_problems(blank))
    grey = render(lambda ax: (ax.plot([0, 1], [0, 1], color="0.4"), ax.axis("off")))
    assert any("hues" in p for p in plot_problems(grey))
    x = np.linspace(0, 6, 100)
    good = render(lambda ax: (ax.plot(x, np.sin(x), color="C0", lw=3),
                              ax.plot(x, np.cos(x), color="C3", lw=3, ls="--")))
    assert plot_problems(good) == []
    assert count_near(good, C0, 40) > 300 and count_near(good, C3, 40) > 200


def figure_problems(cell, image: np.ndarray) -> list[str]:
    """The generic checks, plus what the Q-Q plot and the Venn diagram must show."""
    problems = plot_problems(image)
    if "plot_qq(" in cell.source:
        for label, rgb, tolerance, least in (("data line (C0)", C0, 40, 300),
                                             ("model line (C3)", C3, 40, 200),
                                             ("95% band", QQ_BAND, 6, 5000)):
            found = count_near(image, rgb, tolerance)
            if found < least:
                problems.append(f"Q-Q plot: {found} pixels of the {label}, expected {least}+")
    if "plot_venn(" in cell.source:
        for label, rgb in (("trait 1 circle", VENN_RED), ("trait 2 circle", VENN_BLUE),
                           ("overlap", VENN_BOTH)):
            found = count_near(image, rgb, 20)
            if found < 1000:
                problems.append(f"Venn diagram: {found} pixels of the {label}")
    return problems


def test_every_notebook_is_a_percent_format_script():
    """The notebooks are text (jupytext percent format), with markdown and code cells."""
    assert len(NOTEBOOKS) >= 3
    for path in NOTEBOOKS:
        text = path.read_text()
        assert "format_name: percent" in text, path
        notebook = jupytext.reads(text, fmt="py:percent")
        kinds = {cell.cell_type for cell in notebook.cells}
        assert kinds == {"markdown", "code"}, (path, kinds)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_draws_real_figures(path, kernel_name, tmp_path):
    notebook = execute(path, kernel_name, tmp_path)
    problems, n_figures = [], 0
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        images = png_outputs(cell)
        n_figures += len(images)
        first_line = cell.source.strip().splitlines()[0]
        if any(marker in cell.source for marker in SHOWS_FIGURE) and not images:
            problems.append(f"cell {number} ({first_line!r}) shows a figure but has none")
        for image in map(pixels, images):
            problems += [f"cell {number} ({first_line!r}): {p}"
                         for p in figure_problems(cell, image)]
    assert n_figures >= 3, f"{path.name}: {n_figures} figures"
    assert not problems, f"{path.name}:\n" + "\n".join(problems)
