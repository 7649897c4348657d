"""Human-readable pages for machine reports: a standalone HTML page plus PNG charts next to each
chaos and load report, built from the report's JSON dict alone so an old report renders too.

`html` escapes and lays out, `charts` draws, `chaos` and `load` decide what goes on each page.
"""
