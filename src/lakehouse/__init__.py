"""Lakehouse: a self-hosted data and memory substrate for AI agents.

Embedded: ``Lakehouse.open("./lakehouse-data")``. Remote: ``Client("http://127.0.0.1:3100", api_key=...)``.
Errors are the classes in :mod:`lakehouse.errors`, the same in both.
"""

from lakehouse.client import Client
from lakehouse.config import Settings, load_settings
from lakehouse.core import Lakehouse
from lakehouse.errors import LakehouseError
from lakehouse.version import __version__

__all__ = ["Client", "Lakehouse", "LakehouseError", "Settings", "__version__", "load_settings"]
