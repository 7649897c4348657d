"""Venue adapters: one package per venue (split by role: wire, parse, rest, adapter), each
registered by its venue class in the `mdc.venues` entry-point group."""
