"""Subcommands of the `mdc` CLI, one module each."""
