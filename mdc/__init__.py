"""mdc: a market data collector that loses nothing. This package is the Ray-free, sans-I/O core."""

__version__ = "0.1.0"
