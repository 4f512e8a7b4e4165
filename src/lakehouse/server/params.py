"""Query parameters several routes share: ``PageQuery`` (``cursor`` and ``limit``) for every paged list."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Query

MAX_PAGE = 1000


@dataclass
class PageQuery:
    """``?cursor=&limit=``: the ``next`` of the previous page, and how many items (1-1000)."""

    cursor: str | None = Query(None, description="The `next` of the previous page.")
    limit: int = Query(100, ge=1, le=MAX_PAGE, description="How many items (1-1000).")
