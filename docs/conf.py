"""Sphinx configuration of the gaussdsm documentation (``make docs``).

The build is offline: no intersphinx, no remote images; the gallery's examples run here
(sphinx-gallery, a few seconds each); the configuration reference is generated from
``workflow/schemas/config.schema.yaml`` by ``docs/_ext/config_reference.py``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent / "src"))  # this checkout's package, whatever the venv's editable install says
sys.path.insert(0, str(DOCS / "_ext"))

import gaussdsm  # noqa: E402

project = "gaussdsm"
author = "the gaussdsm developers"
copyright = "the gaussdsm developers"
version = release = gaussdsm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "config_reference",
    "cli_help",
]

root_doc = "index"
exclude_patterns = ["_build", "examples/README.rst", "**/GALLERY_HEADER.rst", "api/schemes.generated.rst"]  # included
templates_path: list[str] = []

# Markdown (the theory notes, the user guide): $...$ and $$...$$ math, amsmath environments.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# API reference: autodoc with numpydoc docstrings; members in source order, as __all__ lists them.
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the signatures carry them; numpydoc's Parameters say the rest
autodoc_mock_imports: list[str] = []
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# Executed examples (sphinx-gallery), in the style of POT's gallery.
sphinx_gallery_conf = {
    "examples_dirs": ["examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "write_computation_times": False,
    "backreferences_dir": None,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "plot_gallery": "True",
}

html_theme = "pydata_sphinx_theme"
html_title = f"gaussdsm {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False
html_static_path = ["_static"]
html_css_files = ["gaussdsm.css"]

# MathJax: the default is its CDN (fetched by the reader's browser, never by the build); for reading offline set
# GAUSSDSM_DOCS_MATHJAX to a local copy, e.g. file:///path/to/mathjax/tex-mml-chtml.js.
if os.environ.get("GAUSSDSM_DOCS_MATHJAX"):
    mathjax_path = os.environ["GAUSSDSM_DOCS_MATHJAX"]

# Warnings are errors (sphinx-build -W); the ones silenced here, and why:
suppress_warnings: list[str] = []
nitpick_ignore: list[tuple[str, str]] = []

# Markup repaired when read, so the build stays warning-free without hiding any warning: theory.md and samplers.md
# (copied from the shared theory notes) write divided differences F^[1](a,b), which Markdown reads as links: escaped.


def _repair_markdown(app, docname, source):
    if docname in ("theory", "samplers"):
        import re

        source[0] = re.sub(r"\^\[(\d)\]\(", r"^\\[\1\\](", source[0])


def _write_scheme_pages(app):
    """``api/schemes.generated.rst``: one section per scheme of the registry (its name, reference, its module's
    docstring once, its step), so a new scheme appears in the API reference without editing the docs."""
    from gaussdsm.samplers.diffusion import SCHEMES

    out, seen = [], set()
    for name, rec in SCHEMES.items():
        fn = rec.step if rec.step is not None else rec.particles
        title = f"``{name}``" + (f": {rec.cite}" if rec.cite else "")
        out += [title, "~" * len(title), ""]
        if fn.__module__ not in seen:
            seen.add(fn.__module__)
            out += [f".. automodule:: {fn.__module__}", "   :no-members:", ""]
        out += [f".. autofunction:: {fn.__module__}.{fn.__name__}", ""]
    target = Path(app.srcdir) / "api" / "schemes.generated.rst"
    text = "\n".join(out)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def setup(app):
    app.connect("builder-inited", _write_scheme_pages)
    app.connect("source-read", _repair_markdown)
