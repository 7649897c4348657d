"""Fault injectors for the chaos suite: one fault kind per module, found by name through
`chaos.faults.registry` (entry-point group `mdc.faults` plus the built-ins)."""
