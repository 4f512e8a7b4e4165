"""What a point may be: the checks of an upsert batch, as JSON points or as an Arrow table, before anything is
stored. Every problem is reported (``invalid_point``, with the point's index), not only the first."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from lakehouse.errors import BatchTooLarge, EmptyBatch, ErrorItem, InvalidPoint
from lakehouse.vectors.model import Collection

MAX_ID_CHARS = 512


def numbers(value: Any) -> np.ndarray[Any, Any] | None:
    """``value`` as a float64 array when it is a flat JSON list of numbers (true and false are not numbers), or
    itself when it is a one-dimensional numeric numpy array (in-process callers)."""
    if isinstance(value, np.ndarray):
        return value if value.ndim == 1 and value.dtype.kind in "iuf" else None
    if not isinstance(value, list) or bool in map(type, value):
        return None
    try:
        row = np.asarray(value)
    except (ValueError, TypeError):
        return None
    if row.ndim != 1 or row.dtype.kind not in "iuf":
        return None
    return row.astype(np.float64, copy=False)


def check_json(
    collection: Collection, points: Sequence[Any], limit: int, embed: Callable[[list[str], str | None], Any]
) -> tuple[list[str], list[np.ndarray[Any, Any]], list[str | None], list[str | None]]:
    """JSON points (``{"id", "vector"? | "text"?, "metadata"?}``) checked one by one, texts without a vector
    embedded with ``embed``: (ids, vectors, metadata JSON, texts), or ``InvalidPoint`` with one item per problem
    and the point's index, ``EmptyBatch`` or ``BatchTooLarge``."""
    if not isinstance(points, list) or not points:
        raise EmptyBatch("points is empty: give at least one point", field="points")
    if len(points) > limit:
        raise BatchTooLarge(f"{len(points)} points in one request; at most {limit} (vectors.max_batch)", field="points")
    problems: list[ErrorItem] = []
    seen: dict[str, int] = {}
    ids: list[str] = []
    vectors: list[np.ndarray[Any, Any] | None] = []
    metadata: list[str | None] = []
    texts: list[str | None] = []
    to_embed: list[int] = []

    def bad(index: int, part: str, reason: str) -> None:
        field = f"points[{index}]" + (f".{part}" if part else "")
        problems.append(ErrorItem(kind="invalid_point", field=field, reason=f"point {index}: {reason}"))

    for index, point in enumerate(points):
        ids.append("")
        vectors.append(None)
        metadata.append(None)
        texts.append(None)
        if not isinstance(point, Mapping):
            bad(index, "", "a point is an object")
            continue
        unknown = set(point) - {"id", "vector", "metadata", "text"}
        if unknown:
            bad(index, sorted(unknown)[0], f"unknown member(s) {', '.join(sorted(unknown))}")
        point_id = point.get("id")
        if not isinstance(point_id, str) or not point_id or len(point_id) > MAX_ID_CHARS:
            bad(index, "id", f"id is a string of 1-{MAX_ID_CHARS} characters")
        elif point_id in seen:
            bad(index, "id", f"id {point_id!r} repeats point {seen[point_id]}")
        else:
            seen[point_id] = index
            ids[index] = point_id
        meta = point.get("metadata")
        if meta is not None and not isinstance(meta, Mapping):
            bad(index, "metadata", f"metadata is an object, not {type(meta).__name__}")
        elif meta is not None:
            try:
                metadata[index] = json.dumps(meta, allow_nan=False)
            except ValueError:
                bad(index, "metadata", "metadata holds NaN or an infinity, which JSON cannot")
        text = point.get("text")
        if text is not None and not isinstance(text, str):
            bad(index, "text", f"text is a string, not {type(text).__name__}")
        else:
            texts[index] = text
        vector = point.get("vector")
        if vector is None:
            if isinstance(text, str) and text.strip():
                to_embed.append(index)
            else:
                bad(index, "vector", "give a vector, or a text to embed")
            continue
        row = numbers(vector)
        if row is None:
            bad(index, "vector", "vector is a list of numbers")
        elif len(row) != collection.dim:
            bad(index, "vector", f"vector has {len(row)} dimensions; the collection has {collection.dim}")
        elif not np.isfinite(row).all():
            bad(index, "vector", "vector holds NaN or an infinity")
        else:
            vectors[index] = row.astype(np.float32)
    if problems:
        raise InvalidPoint(f"{len(problems)} problem(s) in the points; nothing was stored", errors=problems)
    if to_embed:
        embedded = embed([str(texts[i]) for i in to_embed], collection.embedder)
        if embedded.dim != collection.dim:
            reason = (
                f"the embedder {embedded.model} gives {embedded.dim} dimensions; the collection has {collection.dim}"
            )
            for i in to_embed:
                bad(i, "text", reason)
            raise InvalidPoint("the embedder does not fit the collection; nothing was stored", errors=problems)
        for i, row in zip(to_embed, embedded.vectors, strict=True):
            vectors[i] = row
    return ids, [v for v in vectors if v is not None], metadata, texts


def check_arrow(
    collection: Collection, table: Any, limit: int
) -> tuple[list[str], np.ndarray[Any, Any], list[str | None], list[str | None]]:
    """A pyarrow Table of points (columns ``id``, ``vector``, optional ``metadata`` as JSON strings and
    ``text``) checked column by column: (ids, float32 matrix, metadata JSON, texts), or ``InvalidPoint`` with
    one item per problem (at most 100 per kind), ``EmptyBatch`` or ``BatchTooLarge``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        raise EmptyBatch("the body has no rows", field="points")
    if table.num_rows > limit:
        raise BatchTooLarge(
            f"{table.num_rows} points in one request; at most {limit} (vectors.max_batch)", field="points"
        )
    problems: list[ErrorItem] = []

    def bad(index: int | None, part: str, reason: str) -> None:
        field = f"points[{index}].{part}" if index is not None else f"points.{part}"
        where = f"point {index}: " if index is not None else ""
        problems.append(ErrorItem(kind="invalid_point", field=field, reason=where + reason))

    names = set(table.column_names)
    for column in sorted(names - {"id", "vector", "metadata", "text"}):
        bad(None, column, f"unknown column {column!r}; the columns are id, vector, metadata, text")
    for column in ("id", "vector"):
        if column not in names:
            bad(None, column, f"the column {column!r} is missing")
    if problems:
        raise InvalidPoint(f"{len(problems)} problem(s) in the points; nothing was stored", errors=problems)
    ids_column = table.column("id")
    if not pa.types.is_string(ids_column.type) and not pa.types.is_large_string(ids_column.type):
        raise InvalidPoint("id is a string column", field="points.id")
    ids = ids_column.to_pylist()
    seen: dict[str, int] = {}
    for index, point_id in enumerate(ids):
        if not point_id or len(point_id) > MAX_ID_CHARS:
            bad(index, "id", f"id is a string of 1-{MAX_ID_CHARS} characters")
        elif point_id in seen:
            bad(index, "id", f"id {point_id!r} repeats point {seen[point_id]}")
        else:
            seen[point_id] = index
    vector_column = table.column("vector").combine_chunks()
    kind = vector_column.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)) or not (
        pa.types.is_integer(kind.value_type) or pa.types.is_floating(kind.value_type)
    ):
        raise InvalidPoint(f"vector is a list of numbers, not {kind}", field="points.vector")
    lengths = pc.fill_null(pc.list_value_length(vector_column), -1).to_numpy(zero_copy_only=False)
    for index in np.flatnonzero(lengths != collection.dim)[:100]:
        got = "no vector" if lengths[index] < 0 else f"{lengths[index]} dimensions"
        bad(int(index), "vector", f"vector has {got}; the collection has {collection.dim}")
    matrix = np.zeros((0, collection.dim), dtype=np.float32)
    if not problems:
        flat = vector_column.flatten()
        if flat.null_count:
            bad(None, "vector", "a vector holds a null")
        else:
            matrix = flat.to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, collection.dim)
            for index in np.flatnonzero(~np.isfinite(matrix).all(axis=1))[:100]:
                bad(int(index), "vector", "vector holds NaN or an infinity")
    metadata: list[str | None] = [None] * table.num_rows
    if "metadata" in names:
        for index, raw in enumerate(table.column("metadata").to_pylist()):
            if raw is None:
                continue
            try:
                value = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                value = None
            if not isinstance(value, dict):
                bad(index, "metadata", "metadata is a JSON object")
                continue
            try:
                metadata[index] = json.dumps(value, allow_nan=False)
            except ValueError:
                bad(index, "metadata", "metadata holds NaN or an infinity, which JSON cannot")
    texts: list[str | None] = [None] * table.num_rows
    if "text" in names:
        text_column = table.column("text")
        if not pa.types.is_string(text_column.type) and not pa.types.is_large_string(text_column.type):
            if not pa.types.is_null(text_column.type):
                bad(None, "text", "text is a string column")
        else:
            texts = text_column.to_pylist()
    if problems:
        raise InvalidPoint(f"{len(problems)} problem(s) in the points; nothing was stored", errors=problems)
    return [str(i) for i in ids], matrix, metadata, texts
