"""MkDocs hook of the documentation site (mkdocs.yml): the home page is README.md.

README.md lives at the repository root and links the guide as ``docs/NAME.md``; the site's
pages live in ``docs/``, so the home page is README's text with those links made relative to
``docs/``. Every other link is left as written, so a README link to a file outside ``docs/``
still fails the strict build instead of silently pointing nowhere.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

README = Path(__file__).resolve().parent / "README.md"
#: a Markdown link target starting with ``docs/`` (inline links only; README uses no others)
DOCS_LINK = re.compile(r"\]\(docs/")


def home_page_markdown(readme_text: str) -> str:
    """README's Markdown with ``](docs/X)`` links rewritten to ``](X)``."""
    return DOCS_LINK.sub("](", readme_text)


def on_files(files, config):
    """Add ``index.md`` (not a file in docs/) generated from README.md."""
    if files.get_file_from_path("index.md") is not None:
        raise ValueError("docs/index.md exists: the home page is generated from README.md")
    files.append(File.generated(config, "index.md",
                                content=home_page_markdown(README.read_text(encoding="utf-8"))))
    return files
