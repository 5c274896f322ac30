"""Counters and latency samples of a load run, and its report.

Report fields (:meth:`Stats.report`): ``bots``; ``duration_s`` (wall seconds measured); ``orders``
(order requests sent: order.place and order.cancelReplace); ``orders_per_s``; ``acks`` (those answered
with success, plus in-flight ones found by ``order.status`` after a reconnect); ``recovered_acks`` (the
latter); ``latency_ms`` {p50, p99, p99_9, max, samples} of every answered request (orders, cancels,
amends: from handing the request to the socket to reading its answer, on the client); ``rejects``
{"<code> <msg>" (method): n}; ``fills`` (executionReport TRADEs seen); ``depth_gaps`` (local books that
found U != previous u + 1; must be 0); ``disconnects``, ``reconnects``; ``connected`` (bots connected at
the end); ``throttled`` (times a bot held its requests to stay under the server's ORDERS limit per key,
read from ``exchangeInfo``; 0 with ``throttle=False``). The runner adds ``books`` {matched, mismatched,
unverified}: each bot's local book against the server's depth at the same update id after the run.
"""
from __future__ import annotations

from typing import Any

__all__ = ["Stats", "percentile"]


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[i]


class Stats:
    def __init__(self) -> None:
        self.orders = self.acks = self.fills = self.gaps = 0
        self.disconnects = self.reconnects = self.connected = self.recovered_acks = 0
        self.throttled = 0
        self.lat: list[float] = []
        self.rejects: dict[str, int] = {}
        self.bots: list[Any] = []

    def latency(self, seconds: float) -> None:
        self.lat.append(seconds)

    def reject(self, code: Any, msg: str, method: str) -> None:
        key = f"{code} {msg} ({method})"
        self.rejects[key] = self.rejects.get(key, 0) + 1

    def depth_gaps(self) -> int:
        return sum(b.book.gaps for b in self.bots)

    def report(self, duration_s: float) -> dict:
        lat = sorted(self.lat)
        return {"bots": len(self.bots), "duration_s": round(duration_s, 3), "orders": self.orders,
                "orders_per_s": round(self.orders / duration_s, 1) if duration_s > 0 else 0.0,
                "acks": self.acks, "recovered_acks": self.recovered_acks,
                "latency_ms": {"p50": round(percentile(lat, 0.5) * 1e3, 3),
                               "p99": round(percentile(lat, 0.99) * 1e3, 3),
                               "p99_9": round(percentile(lat, 0.999) * 1e3, 3),
                               "max": round(lat[-1] * 1e3, 3) if lat else 0.0, "samples": len(lat)},
                "rejects": dict(sorted(self.rejects.items(), key=lambda kv: -kv[1])),
                "fills": self.fills, "depth_gaps": self.depth_gaps(), "disconnects": self.disconnects,
                "reconnects": self.reconnects, "connected": self.connected, "throttled": self.throttled}
