"""The metadata filter language: each operator, the combinators, missing fields, and refusals that name the place."""

from __future__ import annotations

from typing import Any

import pytest

from lakehouse.errors import InvalidFilter
from lakehouse.vectors.filters import compile_filter

DOCS: list[dict[str, Any]] = [
    {"lang": "en", "year": 2021, "tags": ["a", "b"], "title": "Intro to lakes", "author": {"name": "ada"}},
    {"lang": "de", "year": 2023, "tags": ["b"], "title": "Seen", "draft": True},
    {"lang": "en", "year": "2022", "tags": [], "title": "Vectors"},
    {"year": 1, "flag": 1},
]


def matching(spec: Any) -> list[int]:
    predicate = compile_filter(spec)
    return [i for i, doc in enumerate(DOCS) if predicate(doc)]


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
