"""The metadata filter language shared by vector search and memory search: ``compile_filter(spec)`` checks a
filter whole and answers a ``Filter`` that decides one metadata object or, over ``MetadataColumns``, a whole
collection at once.

Below every library that filters: it imports nothing of the project but ``errors``.
"""

from lakehouse.filters.columns import MetadataColumns
from lakehouse.filters.language import Filter, compile_filter
from lakehouse.filters.values import MISSING, OPERATORS, lookup

__all__ = ["MISSING", "OPERATORS", "Filter", "MetadataColumns", "compile_filter", "lookup"]
