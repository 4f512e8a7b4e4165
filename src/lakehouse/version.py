"""The package's version, importable by every layer (the root package imports the whole public API)."""

__version__ = "0.1.0"
