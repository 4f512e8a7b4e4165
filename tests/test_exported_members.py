"""The public surface is explicit: each package's __all__ is exactly what it exports."""

from __future__ import annotations

import lakehouse
import lakehouse.blobs
import lakehouse.errors


def test_top_level() -> None:
    assert sorted(lakehouse.__all__) == [
        "Client",
        "Lakehouse",
        "LakehouseError",
        "Settings",
        "__version__",
        "load_settings",
    ]
    for name in lakehouse.__all__:
        assert hasattr(lakehouse, name)


def test_errors_exports_every_exception() -> None:
    exported = set(lakehouse.errors.__all__)
    classes = {
        name
        for name, value in vars(lakehouse.errors).items()
        if isinstance(value, type) and issubclass(value, Exception) and value.__module__ == "lakehouse.errors"
    }
    assert classes <= exported
    for name in exported:
        assert hasattr(lakehouse.errors, name)


def test_every_error_class_has_a_unique_kind_and_a_status() -> None:
    seen: dict[str, str] = {}
    stack = [lakehouse.errors.LakehouseError]
    while stack:
        cls = stack.pop()
        assert cls.kind not in seen, f"{cls.__name__} reuses kind {cls.kind} of {seen.get(cls.kind)}"
        seen[cls.kind] = cls.__name__
        assert 400 <= cls.status < 600
        stack.extend(cls.__subclasses__())


def test_blobs_exports() -> None:
    for name in lakehouse.blobs.__all__:
        assert hasattr(lakehouse.blobs, name)
