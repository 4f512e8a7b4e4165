"""A lake on a SQLite catalog and on a PostgreSQL catalog, for every table test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.config import Settings
from lakehouse.tables.lake import Lake


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lake]:
    sections: dict[str, object] = {"data_dir": tmp_path}
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        sections["lake"] = {"catalog": "postgres", "catalog_dsn": url.replace("postgresql+psycopg://", "postgresql://")}
    lake = Lake(Settings.model_validate(sections))
    yield lake
    lake.close()
