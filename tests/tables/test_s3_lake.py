"""Lake data under an S3 prefix: files land in the bucket, the sandbox reads only its own prefix, settings checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.errors import ConfigError, ForbiddenFunction, PermissionDenied
from lakehouse.tables.lake import s3_secret_sql

pytestmark = [pytest.mark.s3]


def _bucket(s3: dict[str, Any]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=s3["endpoint"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


@pytest.fixture
def s3_lakehouse(tmp_path: Path, s3_settings: dict[str, Any]) -> Any:
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path / "data",
            "lake": {"data_path": f"s3://{s3_settings['bucket']}/tenant-a/lake"},
            "storage": {"s3": s3_settings},
        }
    )
    with Lakehouse(settings) as lakehouse:
        yield lakehouse, s3_settings


def test_data_files_land_under_the_prefix(s3_lakehouse: Any) -> None:
    lakehouse, s3 = s3_lakehouse
    lakehouse.datasets.create("t", [{"name": "a", "type": "integer"}])
    with lakehouse.lake.cursor() as cur, lakehouse.lake.write(cur):
        cur.execute("INSERT INTO lake.main.t SELECT range FROM range(1000)")
    keys = [o["Key"] for o in _bucket(s3).list_objects_v2(Bucket=s3["bucket"]).get("Contents", [])]
    assert keys and all(k.startswith("tenant-a/lake/") and k.endswith(".parquet") for k in keys)
    assert not any(Path(lakehouse.settings.data_dir).rglob("*.parquet")), "nothing is written locally"
    assert lakehouse.sql("SELECT count(*), sum(a) FROM t").rows == [[1000, 499500]]
    assert lakehouse.datasets.get("t").size_bytes > 0


def test_the_sandbox_reads_only_its_own_prefix(s3_lakehouse: Any) -> None:
    lakehouse, s3 = s3_lakehouse
    _bucket(s3).put_object(Bucket=s3["bucket"], Key="tenant-b/secret.csv", Body=b"x\n1\n")
    lakehouse.datasets.create("t", [{"name": "a", "type": "integer"}])
    for sql in (
        f"SELECT * FROM read_csv('s3://{s3['bucket']}/tenant-b/secret.csv')",
        f"SELECT * FROM glob('s3://{s3['bucket']}/*')",
        "SELECT * FROM duckdb_secrets()",
    ):
        with pytest.raises(ForbiddenFunction):
            lakehouse.sql(sql)
    with pytest.raises(PermissionDenied):
        lakehouse.sql(f"SELECT * FROM 's3://{s3['bucket']}/tenant-b/secret.csv'")


def test_plain_http_endpoint_needs_allow_http(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path,
            "lake": {"data_path": "s3://bucket/lake"},
            "storage": {"s3": {"endpoint": "http://127.0.0.1:9000"}},
        }
    )
    with pytest.raises(ConfigError, match="allow_http"):
        s3_secret_sql(settings)
    https = settings.model_copy(
        update={
            "storage": settings.storage.model_copy(
                update={"s3": settings.storage.s3.model_copy(update={"endpoint": "https://s3.example.com"})}
            )
        }
    )
    assert "USE_SSL true" in s3_secret_sql(https) and "ENDPOINT 's3.example.com'" in s3_secret_sql(https)
