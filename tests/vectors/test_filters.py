"""The metadata filter language: each operator, the combinators, missing fields, and refusals that name the place;
and the whole-collection masks (``Filter.mask`` over ``MetadataColumns``) agreeing with the per-object answer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.errors import InvalidFilter
from lakehouse.filters.columns import MetadataColumns
from lakehouse.filters.language import compile_filter

DOCS: list[dict[str, Any]] = [
    {"lang": "en", "year": 2021, "tags": ["a", "b"], "title": "Intro to lakes", "author": {"name": "ada"}},
    {"lang": "de", "year": 2023, "tags": ["b"], "title": "Seen", "draft": True},
    {"lang": "en", "year": "2022", "tags": [], "title": "Vectors"},
    {"year": 1, "flag": 1},
]


def columns_of(docs: list[dict[str, Any] | None]) -> MetadataColumns:
    columns = MetadataColumns(lambda position: docs[position])
    columns.resize(len(docs))
    return columns


def matching(spec: Any) -> list[int]:
    compiled = compile_filter(spec)
    one_by_one = [i for i, doc in enumerate(DOCS) if compiled(doc)]
    assert np.flatnonzero(compiled.mask(columns_of(list(DOCS)))).tolist() == one_by_one
    return one_by_one


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, [0, 1, 2, 3]),
        ({"lang": "en"}, [0, 2]),
        ({"lang": {"eq": "en"}}, [0, 2]),
        ({"lang": {"ne": "en"}}, [1, 3]),  # a missing field is "not equal"
        ({"lang": {"in": ["de", "fr"]}}, [1]),
        ({"lang": {"nin": ["de"]}}, [0, 2, 3]),
        ({"year": {"gt": 2021}}, [1]),  # "2022" is a string: never ordered against a number
        ({"year": {"gte": 2021, "lt": 2023}}, [0]),
        ({"year": {"lte": 2021}}, [0, 3]),
        ({"title": {"gt": "M"}}, [1, 2]),
        ({"title": {"contains": "lake"}}, [0]),
        ({"tags": {"contains": "b"}}, [0, 1]),
        ({"draft": {"exists": True}}, [1]),
        ({"draft": {"exists": False}}, [0, 2, 3]),
        ({"author.name": "ada"}, [0]),
        ({"flag": True}, []),  # true is not 1
        ({"draft": True}, [1]),
        ({"and": [{"lang": "en"}, {"year": {"gte": 2000}}]}, [0]),
        ({"or": [{"lang": "de"}, {"year": 1}]}, [1, 3]),
        ({"not": {"lang": "en"}}, [1, 3]),
        ({"lang": "en", "tags": {"contains": "a"}}, [0]),
    ],
)
def test_operators(spec: Any, expected: list[int]) -> None:
    assert matching(spec) == expected


@pytest.mark.parametrize(
    ("spec", "fields"),
    [
        ({"lang": {"like": "e%"}}, ["filter.lang.like"]),
        ({"and": {"lang": "en"}}, ["filter.and"]),
        ({"or": []}, ["filter.or"]),
        ({"year": {"gt": True}}, ["filter.year.gt"]),
        ({"lang": {"in": "en"}}, ["filter.lang.in"]),
        ({"lang": {"exists": "yes"}}, ["filter.lang.exists"]),
        ({"lang": {}}, ["filter.lang"]),
        ({"lang": ["en"]}, ["filter.lang"]),
        ({"a..b": 1}, ["filter.a..b"]),
        (["lang"], ["filter"]),
        (
            {"lang": {"regex": "x", "eq": {"nested": 1}}, "not": {"x": {"between": [1, 2]}}},
            ["filter.lang.regex", "filter.lang.eq", "filter.not.x.between"],
        ),
    ],
)
def test_refusals_name_every_problem(spec: Any, fields: list[str]) -> None:
    with pytest.raises(InvalidFilter) as raised:
        compile_filter(spec)
    assert [item.field for item in raised.value.errors] == fields
    assert raised.value.status == 422


def test_an_unknown_operator_is_named() -> None:
    with pytest.raises(InvalidFilter) as raised:
        compile_filter({"lang": {"like": "e%"}})
    assert "'like'" in raised.value.errors[0].reason and "contains" in raised.value.errors[0].reason


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([2**53 + 1, -(2**60), 1.0, 2.5, -0.0]),
    st.sampled_from(["", "a", "ab", "b", "en"]),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.fixed_dictionaries({"x": SCALARS}))
FIELDS = st.sampled_from(["f", "g", "n.x"])
METADATA = st.dictionaries(st.sampled_from(["f", "g", "n"]), VALUES, max_size=3)
OPS = st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "contains"])
LEAVES = st.one_of(
    st.builds(lambda f, op, v: {f: {op: v}}, FIELDS, OPS, SCALARS),
    st.builds(lambda f, op, vs: {f: {op: vs}}, FIELDS, st.sampled_from(["in", "nin"]), st.lists(SCALARS, max_size=3)),
    st.builds(lambda f, b: {f: {"exists": b}}, FIELDS, st.booleans()),
)
FILTERS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.builds(lambda parts: {"and": parts}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda parts: {"or": parts}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda part: {"not": part}, inner),
    ),
    max_leaves=6,
)


def _valid(spec: Any) -> bool:
    try:
        compile_filter(spec)
    except InvalidFilter:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(st.lists(METADATA, max_size=12), st.lists(METADATA, max_size=4), FILTERS.filter(_valid))
def test_the_mask_of_a_collection_agrees_with_each_object(
    first: list[dict[str, Any]], later: list[dict[str, Any]], spec: Any
) -> None:
    """Columns made from the first docs, then kept current while docs are replaced, dropped and added."""
    compiled = compile_filter(spec)
    docs: list[dict[str, Any] | None] = list(first)
    columns = columns_of(docs)
    compiled.mask(columns)  # makes the columns the filter names
    for i, doc in enumerate(later):
        if i < len(docs) and i % 2:
            docs[i] = None if i % 3 == 1 else doc
            columns.put(i, docs[i])
        else:
            docs.append(doc)
            columns.resize(len(docs))
            columns.put(len(docs) - 1, doc)
    live = [doc is not None for doc in docs]
    expected = [i for i, doc in enumerate(docs) if doc is not None and compiled(doc)]
    assert np.flatnonzero(compiled.mask(columns) & np.asarray(live, dtype=bool)).tolist() == expected
