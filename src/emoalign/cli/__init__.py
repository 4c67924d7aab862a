"""The command line: parses arguments (``parser``) and delegates to the handlers (``commands``)."""

from emoalign.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
