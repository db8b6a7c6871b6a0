"""The mix's requests: every pair x interval x limit, ranked by a seeded shuffle and drawn with
Zipf-like popularity (the k-th most popular drawn ~1/k^s as often), as clients polling a few
charts do; the series the writer updates are the most popular ones."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from loadtest.request import split_pair

LIMITS: tuple[int, ...] = (1, 100, 1000, 1440)
# The limits by popularity: a chart's page first, the newest candle alone (a price tick) after.
POPULAR_LIMITS: tuple[int, ...] = (1000, 100, 1, 1440)
ZIPF_S = 1.0
SEED = 30


@dataclass(frozen=True)
class MixKey:
    """One request of the mix, whatever the mode: a series (pair x interval) at a limit."""

    pair: str
    interval: str
    limit: int

    @property
    def series(self) -> str:
        return f"{self.pair} {self.interval}"

    def path(self, mode: str) -> str:
        exchange, market, asset = split_pair(self.pair)
        return (
            f"/api/{mode}/candle/{exchange}/{market}/{asset}"
            f"?interval={self.interval}&limit={self.limit}"
        )


def zipf_weights(n: int, s: float = ZIPF_S) -> list[float]:
    """Popularity of ranks 1..n, normalized to sum 1: rank k's is proportional to 1/k^s."""
    if n < 1:
        raise ValueError("a mix needs at least one request")
    raw = [1 / (k**s) for k in range(1, n + 1)]
    total = sum(raw)
    return [w / total for w in raw]


def ranked_keys(
    pairs: Sequence[str],
    intervals: Sequence[str],
    limits: Sequence[int] = POPULAR_LIMITS,
    seed: int = SEED,
) -> list[MixKey]:
    """Every pair x interval x limit, most popular first: each argument is in its own order of
    popularity, a key ranks by the sum of its three ranks, ties in a shuffle seeded by `seed`."""
    keys = [
        (a + b + c, MixKey(p, i, n))
        for (a, p), (b, i), (c, n) in itertools.product(
            enumerate(pairs), enumerate(intervals), enumerate(limits)
        )
    ]
    random.Random(seed).shuffle(keys)
    keys.sort(key=lambda ranked: ranked[0])
    return [key for _, key in keys]


class MixSampler:
    """Draws keys with Zipf-like popularity from its own seeded generator."""

    def __init__(self, keys: Sequence[MixKey], seed: int = SEED, s: float = ZIPF_S) -> None:
        self.keys = list(keys)
        self.weights = zipf_weights(len(self.keys), s)
        self._cumulative = list(itertools.accumulate(self.weights))
        self._random = random.Random(seed)

    def draw(self) -> MixKey:
        point = self._random.random() * self._cumulative[-1]
        index = bisect.bisect_right(self._cumulative, point)
        return self.keys[min(index, len(self.keys) - 1)]

    def series_popularity(self) -> dict[str, float]:
        """Each series' share of the requests, most popular first."""
        shares: dict[str, float] = {}
        for key, weight in zip(self.keys, self.weights):
            shares[key.series] = shares.get(key.series, 0.0) + weight
        return dict(sorted(shares.items(), key=lambda kv: -kv[1]))

    def popular_series(self, count: int) -> list[str]:
        """The `count` series drawn most often (the writer's)."""
        return list(self.series_popularity())[:count]


# What `seed_candles --if-empty` stores (candles.random_walk.DEFAULT_PAIRS, every interval of
# candles.models; a test checks both): the runner never imports the models.
PAIRS: tuple[str, ...] = ("upbit/KRW/BTC", "upbit/KRW/ETH", "binance/USDT/BTC")
INTERVALS: tuple[str, ...] = ("1m", "5m", "15m", "1h", "4h", "1d")
