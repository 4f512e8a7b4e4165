"""The price table: what a model's tokens cost, applied at ingest to spans that carry tokens but no cost, and again
whenever the table changes (``ObserveStore.reprice``). Spans that report their own cost keep it.

Prices are US dollars per token (input and output), keyed by model name; a span's model matches a key exactly or
as a dated variant of it (``gpt-4o-2024-08-06`` is priced as ``gpt-4o``; the longest matching key wins).
``DEFAULT_PRICES`` are the providers' list prices when this table was written (docs/operations.md lists them);
``[observe.prices]`` in the settings overrides or adds entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lakehouse.config import ObserveSettings

PER_MILLION = 1e-6
_REMEMBERED = 4096  # model names whose price is remembered


@dataclass(frozen=True)
class Price:
    input: float  # per input token
    output: float  # per output token


# list prices per million tokens (input, output)
_LIST = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "text-embedding-3-small": (0.02, 0.0),
    "text-embedding-3-large": (0.13, 0.0),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-pro": (1.25, 10.00),
}
DEFAULT_PRICES: dict[str, Price] = {m: Price(i * PER_MILLION, o * PER_MILLION) for m, (i, o) in _LIST.items()}


class PriceTable:
    @classmethod
    def from_settings(cls, settings: ObserveSettings) -> PriceTable:
        """The documented defaults (unless ``default_prices`` is off) under ``[observe.prices]``."""
        overrides = {name.lower(): Price(p.input, p.output) for name, p in settings.prices.items()}
        return cls(overrides, defaults=settings.default_prices)

    def __init__(self, overrides: Mapping[str, Price] | None = None, *, defaults: bool = True) -> None:
        self.prices: dict[str, Price] = {**(DEFAULT_PRICES if defaults else {}), **(overrides or {})}
        self._keys = sorted(self.prices, key=len, reverse=True)
        self._found: dict[str, Price | None] = {}  # model names seen -> their price (a few distinct names repeat)

    def price(self, model: str | None) -> Price | None:
        if not model:
            return None
        if model in self._found:
            return self._found[model]
        name = model.strip().lower()
        found = None
        for key in self._keys:
            if name == key or name.startswith(key + "-") or name.endswith("/" + key):
                found = self.prices[key]
                break
        if len(self._found) >= _REMEMBERED:
            self._found.clear()
        self._found[model] = found
        return found

    def cost(self, model: str | None, input_tokens: int | None, output_tokens: int | None) -> float | None:
        """The tokens' cost by the table, or None when the model is not in it or the span has no tokens."""
        if input_tokens is None and output_tokens is None:
            return None
        price = self.price(model)
        if price is None:
            return None
        return (input_tokens or 0) * price.input + (output_tokens or 0) * price.output
