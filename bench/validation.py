"""Validation benchmark: payloads per second in-process and over HTTP, against the Python validators in one run.

The schema is a 15-field order record with nested objects and arrays (a customer object with an address, an array
of line objects, tags, a metadata map, formats, patterns, enums, bounds). The payloads are VALID generated orders
and as many invalid ones, each with 3-4 errors at different depths.

Measured per validator (median of ROUNDS rounds over all payloads, one payload at a time):

- ``jsonschema`` (Draft202012Validator, built once and reused; format checking on): the baseline;
- ``fastjsonschema`` (compiled once): fail-fast, it raises on the first error, so it cannot give the full list;
- ``jsonschema-rs`` (``validator_for``, built once): ``is_valid`` for valid payloads, ``iter_errors`` for invalid;
- the lakehouse in-process: ``Lakehouse.validation.validator("order")`` once, then ``validate(payload)`` per
  payload, the error items for the wire included (what ``POST /v1/validate`` does per payload);
- the lakehouse over HTTP: ``lakehouse serve`` in its own process, ``POST /v1/validate`` with BATCH payloads per
  request, one request at a time from one client (payloads/s counts the whole round trip: JSON encoding, the
  request, the server's parse and validation, and the answer).

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/validation.py [--payloads 5000] [--rounds 5] [--batch 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from _common import start_server

ORDER: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "created_at", "status", "currency", "customer", "lines", "total"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^ord_[0-9a-f]{12}$"},
        "created_at": {"type": "string", "format": "date-time"},
        "status": {"enum": ["new", "paid", "shipped", "cancelled"]},
        "currency": {"type": "string", "minLength": 3, "maxLength": 3},
        "customer": {
            "type": "object",
            "required": ["id", "email", "address"],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "email": {"type": "string", "format": "email"},
                "name": {"type": "string", "maxLength": 100},
                "address": {
                    "type": "object",
                    "required": ["country", "zip"],
                    "properties": {
                        "street": {"type": "string"},
                        "city": {"type": "string"},
                        "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
                        "zip": {"type": "string", "maxLength": 10},
                    },
                },
            },
        },
        "lines": {"type": "array", "minItems": 1, "maxItems": 50, "items": {"$ref": "#/$defs/line"}},
        "total": {"type": "number", "minimum": 0},
        "discount": {"type": "number", "minimum": 0, "maximum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "notes": {"type": ["string", "null"], "maxLength": 1000},
        "paid": {"type": "boolean"},
        "shipping": {"enum": ["standard", "express", "pickup"]},
        "channel": {"type": "string"},
        "priority": {"type": "integer", "minimum": 0, "maximum": 9},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "$defs": {
        "line": {
            "type": "object",
            "required": ["sku", "qty", "price"],
            "properties": {
                "sku": {"type": "string", "minLength": 1},
                "qty": {"type": "integer", "minimum": 1},
                "price": {"type": "number", "minimum": 0},
            },
        }
    },
}


def make_orders(count: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    valid = []
    for n in range(count):
        lines = [
            {"sku": f"sku-{rng.randrange(1000)}", "qty": rng.randrange(1, 5), "price": round(rng.uniform(1, 90), 2)}
            for _ in range(rng.randrange(1, 6))
        ]
        valid.append(
            {
                "id": f"ord_{n:012x}",
                "created_at": f"2026-11-{rng.randrange(1, 28):02d}T{rng.randrange(24):02d}:00:00Z",
                "status": rng.choice(["new", "paid", "shipped"]),
                "currency": "EUR",
                "customer": {
                    "id": rng.randrange(1, 10**6),
                    "email": f"user{n}@example.com",
                    "name": f"User {n}",
                    "address": {"street": "Main St 1", "city": "Berlin", "country": "DE", "zip": "10115"},
                },
                "lines": lines,
                "total": round(sum(line["qty"] * line["price"] for line in lines), 2),
                "discount": 0.1,
                "tags": ["web", f"t{n % 7}"],
                "notes": None,
                "paid": n % 2 == 0,
                "shipping": "standard",
                "channel": "web",
                "priority": n % 10,
                "metadata": {"campaign": "fall"},
            }
        )
    invalid = []
    for n, order in enumerate(valid):
        bad = copy.deepcopy(order)
        bad["customer"]["email"] = "not-an-email"  # format, two levels down
        bad["lines"][0]["qty"] = 0  # minimum, in an array item
        bad["status"] = "lost"  # enum
        if n % 2:
            del bad["customer"]["address"]["zip"]  # required, three levels down
        invalid.append(bad)
    return valid, invalid


def rate(count: int, fn: Callable[[], object], rounds: int) -> float:
    """Median payloads per second of ``fn`` (which handles ``count`` payloads) over ``rounds`` rounds."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return count / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payloads", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    import fastjsonschema
    import jsonschema
    import jsonschema_rs

    from lakehouse import Lakehouse

    valid, invalid = make_orders(args.payloads)
    results: dict[str, dict[str, float | str]] = {}

    base = jsonschema.Draft202012Validator(ORDER, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert all(base.is_valid(p) for p in valid) and not any(base.is_valid(p) for p in invalid)
    results["jsonschema (reused validator)"] = {
        "valid": rate(len(valid), lambda: [base.is_valid(p) for p in valid], args.rounds),
        "invalid": rate(len(invalid), lambda: [list(base.iter_errors(p)) for p in invalid], args.rounds),
        "errors": f"{len(list(base.iter_errors(invalid[1])))} per payload",
    }

    fast = fastjsonschema.compile(ORDER)

    def fast_invalid() -> None:
        for p in invalid:
            with contextlib.suppress(fastjsonschema.JsonSchemaValueException):
                fast(p)

    results["fastjsonschema"] = {
        "valid": rate(len(valid), lambda: [fast(p) for p in valid], args.rounds),
        "invalid": rate(len(invalid), fast_invalid, args.rounds),
        "errors": "1 (fail-fast)",
    }

    rs = jsonschema_rs.validator_for(ORDER, validate_formats=True)
    results["jsonschema-rs"] = {
        "valid": rate(len(valid), lambda: [rs.is_valid(p) for p in valid], args.rounds),
        "invalid": rate(len(invalid), lambda: [list(rs.iter_errors(p)) for p in invalid], args.rounds),
        "errors": f"{len(list(rs.iter_errors(invalid[1])))} per payload",
    }

    with tempfile.TemporaryDirectory(prefix="lakehouse-bench-validation-") as tmp:
        lakehouse = Lakehouse.open(Path(tmp) / "inproc")
        try:
            lakehouse.schemas.register("order", ORDER)
            bound = lakehouse.validation.validator("order")
            assert all(bound.validate(p).valid for p in valid)
            sample = bound.validate(invalid[1])
            results["lakehouse in-process (error items)"] = {
                "valid": rate(len(valid), lambda: [bound.validate(p) for p in valid], args.rounds),
                "invalid": rate(len(invalid), lambda: [bound.validate(p) for p in invalid], args.rounds),
                "errors": f"{len(sample.errors)} per payload",
            }
        finally:
            lakehouse.close()

        proc, url = start_server(Path(tmp) / "served")
        try:
            with httpx.Client(base_url=url, timeout=120) as http:
                http.post("/v1/schemas", json={"name": "order", "schema": ORDER}).raise_for_status()
                size = args.batch

                def post_batches(payloads: list[dict[str, Any]], expect: int) -> None:
                    for start in range(0, len(payloads), size):
                        body = json.dumps({"schema": "order", "payloads": payloads[start : start + size]})
                        answer = http.post("/v1/validate", content=body, headers={"content-type": "application/json"})
                        assert answer.status_code == expect, answer.text[:300]

                post_batches(valid[:size], 200)  # warm: the server compiles the schema once
                results[f"lakehouse HTTP, {size}-payload batches"] = {
                    "valid": rate(len(valid), lambda: post_batches(valid, 200), args.rounds),
                    "invalid": rate(len(invalid), lambda: post_batches(invalid, 422), args.rounds),
                    "errors": "every payload's items, with index",
                }
        finally:
            proc.terminate()
            proc.wait()

    baseline = results["jsonschema (reused validator)"]
    print(f"\n{args.payloads} valid and {args.payloads} invalid payloads, median of {args.rounds} rounds\n")
    print("| validator | valid payloads/s | x jsonschema | invalid payloads/s (errors) | x jsonschema |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        valid_ratio = float(r["valid"]) / float(baseline["valid"])
        invalid_ratio = float(r["invalid"]) / float(baseline["invalid"])
        print(
            f"| {name} | {float(r['valid']):,.0f} | {valid_ratio:.1f}x | {float(r['invalid']):,.0f} ({r['errors']}) "
            f"| {invalid_ratio:.1f}x |"
        )


if __name__ == "__main__":
    main()
