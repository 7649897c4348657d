"""Embedded exchange simulator: seeded market model, real venue wire formats, faults, truth.

Only `server` does I/O; everything else is sans-I/O. Nothing here imports mdc.venues, mdc.book
or mdc.sync: the simulator is the independent reference those parsers are tested against.
"""
