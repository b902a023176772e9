"""What the deploy session measured (image sizes, build and run times), printed at its end."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    seconds: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    build_logs: dict[str, str] = field(default_factory=dict)


REPORT = Report()
