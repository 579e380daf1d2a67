"""``.. gaussdsm-cli-help:: [subcommand]``: the ``--help`` text of the ``gaussdsm`` command (or of one of its
subcommands), taken from :func:`gaussdsm.cli.build_parser` when the docs are built, so it cannot drift."""
from __future__ import annotations

import os


def help_text(subcommand: str | None = None, width: int = 78) -> str:
    import argparse

    from gaussdsm.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)  # argparse wraps at the terminal's width
    try:
        parser = build_parser()
        if subcommand:
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            parser = sub.choices[subcommand]
        return parser.format_help()
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def setup(app):
    from docutils import nodes
    from docutils.parsers.rst import Directive

    class CliHelp(Directive):
        optional_arguments = 1
        has_content = False

        def run(self):
            text = help_text(self.arguments[0] if self.arguments else None)
            block = nodes.literal_block(text, text)
            block["language"] = "text"
            return [block]

    app.add_directive("gaussdsm-cli-help", CliHelp)
    return {"parallel_read_safe": True, "version": "1"}
