"""The documentation site (mkdocs.yml: README as home page, docs/*.md, the notebooks of
examples/notebooks) builds in strict mode, so a broken link, a page left out of the
navigation or a notebook that cannot be read fails the suite.

The notebooks are not executed here (``BAYESMIX_DOCS_EXECUTE=false``): tests/test_notebooks.py
runs each once and checks its results and figures. ``mkdocs build --strict`` without the
variable runs them as well. A build takes about 10 s (nbconvert renders the three notebooks).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
DOC_PAGES = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
NOTEBOOKS = sorted(p.name for p in (ROOT / "examples" / "notebooks").glob("*.py"))
#: what the site is built from (paths relative to the repository root)
SITE_SOURCES = ("mkdocs.yml", "mkdocs_hooks.py", "README.md", "docs", "examples/notebooks")


def build(config: Path, site: Path, cwd: Path) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of ``config`` into ``site``, notebooks not executed (mkdocs-
    jupyter's cache goes to ``cwd``)."""
    env = dict(os.environ, BAYESMIX_DOCS_EXECUTE="false", NO_MKDOCS_2_WARNING="1")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                           str(config), "-d", str(site)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def load_hooks():
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "mkdocs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nav_paths(nav) -> list[str]:
    """The page paths of a MkDocs nav (nested lists of {title: path or list})."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in nav_paths(value)]
    return [p for item in nav for p in nav_paths(item)]


def test_nav_lists_every_page_and_notebook():
    from mkdocs.config import load_config

    config = load_config(str(ROOT / "mkdocs.yml"))
    listed = nav_paths(config["nav"])
    expected = ["index.md"] + DOC_PAGES + [f"notebooks/{name}" for name in NOTEBOOKS]
    assert sorted(listed) == sorted(expected)
    assert config["strict"]


def test_home_page_links_point_into_docs():
    """README's ``docs/X`` links become ``X`` (the pages' place on the site); other links
    are left alone, so one to a file the site does not have still fails the build."""
    hooks = load_hooks()
    text = "[LD](docs/ld.md), [a script](examples/x.py), [web](https://example.org/docs/a)"
    assert hooks.home_page_markdown(text) == (
        "[LD](ld.md), [a script](examples/x.py), [web](https://example.org/docs/a)")
    readme = (ROOT / "README.md").read_text()
    assert "](docs/" in readme and "](docs/" not in hooks.home_page_markdown(readme)


def test_site_builds_in_strict_mode(tmp_path):
    site = tmp_path / "site"
    done = build(ROOT / "mkdocs.yml", site, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    home = (site / "index.html").read_text()
    assert "bayesmix is a Python framework" in home      # README's text
    assert 'href="formats/"' in home                     # its docs/formats.md link, rewritten
    for page in DOC_PAGES:
        assert (site / Path(page).stem / "index.html").is_file(), page
    for name in NOTEBOOKS:
        page = (site / "notebooks" / Path(name).stem / "index.html").read_text()
        assert "jp-Notebook" in page, name               # rendered by nbconvert, not copied


def test_broken_link_fails_the_strict_build(tmp_path):
    """The same sources with one link to a page that does not exist: the build fails and
    names it. The notebooks are replaced by one-cell ones to keep this build short."""
    copy = tmp_path / "repo"
    for source in SITE_SOURCES:
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, copy / source)
        else:
            (copy / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / source, copy / source)
    for name in NOTEBOOKS:
        (copy / "examples" / "notebooks" / name).write_text(
            "# %% [markdown]\n# # A one-cell notebook\n")
    page = copy / "docs" / DOC_PAGES[0]
    page.write_text(page.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    done = build(copy / "mkdocs.yml", tmp_path / "site", tmp_path)
    assert done.returncode != 0
    assert "no-such-page.md" in done.stdout + done.stderr
