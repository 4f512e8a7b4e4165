"""The table lake on DuckDB/DuckLake. This package so far holds offline extension loading (``extensions``)."""

from lakehouse.tables.extensions import (
    REQUIRED_EXTENSIONS,
    ExtensionStatus,
    extension_status,
    load_extensions,
)

__all__ = ["REQUIRED_EXTENSIONS", "ExtensionStatus", "extension_status", "load_extensions"]
