"""The two store pairs every table test runs on: SQLite catalog + data in the data dir, and PostgreSQL catalog +
data under an S3 prefix (moto). Library tests also run on PostgreSQL + local data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lakehouse.config import Settings
from lakehouse.tables.lake import Lake
from tests.asgi import AppClient

PAIRS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("postgres+s3", marks=[pytest.mark.postgres, pytest.mark.s3]),
]


def pair_sections(request: pytest.FixtureRequest, pair: str) -> dict[str, Any]:
    """Settings sections for a store pair: ``sqlite``, ``postgres`` or ``postgres+s3``."""
    if pair == "sqlite":
        return {}
    url: str = request.getfixturevalue("pg_url")
    sections: dict[str, Any] = {
        "lake": {"catalog": "postgres", "catalog_dsn": url.replace("postgresql+psycopg://", "postgresql://")}
    }
    if pair.endswith("+s3"):
        s3: dict[str, Any] = request.getfixturevalue("s3_settings")
        sections["lake"]["data_path"] = f"s3://{s3['bucket']}/{s3['prefix']}/lake"
        sections["storage"] = {"s3": s3}
    return sections


@pytest.fixture(params=PAIRS)
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lake]:
    lake = Lake(Settings.model_validate({"data_dir": tmp_path, **pair_sections(request, request.param)}))
    yield lake
    lake.close()


@pytest.fixture(params=[PAIRS[0], PAIRS[2]])
def client(request: pytest.FixtureRequest, make_client: Callable[..., AppClient]) -> AppClient:
    """An in-process app on SQLite + local data and on PostgreSQL + S3."""
    return make_client(**pair_sections(request, request.param))
