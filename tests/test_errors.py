"""The problem body builder and kind lookup."""

from __future__ import annotations

import pytest

from lakehouse.errors import (
    BlobNotFound,
    ErrorItem,
    LakehouseError,
    NotFound,
    error_class_for_kind,
    problem_body,
)
from lakehouse.jsonpointer import field_to_pointer


@pytest.mark.parametrize(
    ("field", "pointer"),
    [(None, ""), ("name", "/name"), ("items[2].qty", "/items/2/qty"), ("a.b/c", "/a/b~1c"), ("m[0][1]", "/m/0/1")],
)
def test_field_to_pointer(field: str | None, pointer: str) -> None:
    assert field_to_pointer(field) == pointer


def test_problem_body_shape() -> None:
    exc = BlobNotFound("no blob a/b", field="key")
    body = problem_body(
        status=exc.status, title=exc.title, detail=exc.detail, errors=exc.errors, request_id="r1", kind=exc.kind
    )
    assert body == {
        "type": "urn:lakehouse:problem:blob_not_found",
        "title": "Blob not found",
        "status": 404,
        "detail": "no blob a/b",
        "request_id": "r1",
        "errors": [{"kind": "blob_not_found", "field": "key", "pointer": "/key", "reason": "no blob a/b"}],
    }
    assert ErrorItem(kind="k", reason="r", extra={"index": 3}).to_dict()["index"] == 3


def test_kind_lookup() -> None:
    assert error_class_for_kind("blob_not_found", 404) is BlobNotFound
    assert error_class_for_kind("something_new", 404) is NotFound
    assert error_class_for_kind("something_new", 599) is LakehouseError
