"""Venue adapters: one module per venue, registered in the `mdc.venues` entry-point group."""
