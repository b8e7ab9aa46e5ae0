"""CPU use as a rate, from readings of CPU time taken one after another (`0xl top`, the web page).

A reading is a service's `resources.cpu_seconds`: a counter since it started. The rate is its growth
between two readings at least MIN_INTERVAL apart, in percent of one CPU, as xentop shows it; with no
earlier reading yet, the average since the service started. A service that started again (another
`started`) begins a new counter.
"""

from __future__ import annotations


class CpuRates:
    def __init__(self, min_interval: float = 1.0) -> None:
        self.min_interval = min_interval
        # (name, started) -> (time of the reading the rate is counted from, its cpu_seconds, the rate)
        self._last: dict[tuple[str, float | None], tuple[float, float, float | None]] = {}

    def percent(
        self, name: str, *, started: float | None, cpu_seconds: float, now: float, uptime: float | None
    ) -> float | None:
        """The CPU rate of NAME at NOW, in percent of one CPU; None if nothing tells it yet."""
        key = (name, started)
        last = self._last.get(key)
        if last is None:
            rate = 100.0 * cpu_seconds / uptime if uptime else None
            self._forget(name)
            self._last[key] = (now, cpu_seconds, rate)
            return rate
        at, seconds, rate = last
        if now - at >= self.min_interval:
            rate = max(0.0, 100.0 * (cpu_seconds - seconds) / (now - at))
            self._last[key] = (now, cpu_seconds, rate)
        return rate

    def _forget(self, name: str) -> None:
        for key in [k for k in self._last if k[0] == name]:
            del self._last[key]

    def keep_only(self, names: set[str]) -> None:
        """Forget services no longer shown (destroyed), so that a long-running server does not grow."""
        for key in [k for k in self._last if k[0] not in names]:
            del self._last[key]
