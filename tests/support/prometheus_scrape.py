"""Scrape a Prometheus endpoint as Prometheus would, and read samples by name and labels.

The text is parsed by prometheus_client's own parser, so what the tests read is what a Prometheus server
would store: sample names with their suffixes (``_total``, ``_bucket``, ``_count``, ``_sum``).
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


@dataclass(frozen=True)
class Scrape:
    families: dict[str, str]  # family name -> type (counter, gauge, histogram, ...)
    samples: tuple[Sample, ...]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        families = list(text_string_to_metric_families(text))
        return cls(
            {family.name: family.type for family in families},
            tuple(sample for family in families for sample in family.samples),
        )

    def matching(self, name: str, **labels: str) -> list[Sample]:
        """Samples called ``name`` whose labels include these."""
        return [
            s for s in self.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float:
        """The value of the one sample ``name`` with these labels (an error if none or several match)."""
        found = self.matching(name, **labels)
        if len(found) != 1:
            seen = [s.labels for s in self.samples if s.name == name]
            raise AssertionError(f"{len(found)} samples {name}{labels}; samples of that name: {seen}")
        return found[0].value

    def value_or(self, default: float, name: str, **labels: str) -> float:
        """Like ``value``, but ``default`` when no sample matches (a counter not yet incremented)."""
        return self.value(name, **labels) if self.matching(name, **labels) else default

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample ``name`` with these labels (e.g. all methods of one status)."""
        return sum(sample.value for sample in self.matching(name, **labels))

    def names(self) -> set[str]:
        return {sample.name for sample in self.samples}


def scrape(address: str, path: str = "/metrics", timeout: float = 5.0) -> Scrape:
    """GET ``http://{address}{path}`` and parse it."""
    with urllib.request.urlopen(f"http://{address}{path}", timeout=timeout) as response:
        return Scrape.parse(response.read().decode("utf-8"))


def scrape_until(address: str, predicate: Callable[[Scrape], bool], timeout: float = 10.0) -> Scrape:
    """Scrape until ``predicate`` holds (gauges computed every few seconds, late increments)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = scrape(address)
        except OSError:  # not listening yet
            if time.monotonic() > deadline:
                raise
        else:
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"scrape of {address} not as expected within {timeout} s: {result.names()}"
                )
        time.sleep(0.05)
