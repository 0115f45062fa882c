"""``python -m artwork``: the same command as ``artwork``."""

from .cli import cli

cli(prog_name="artwork")
