"""Clean one metric file: each good line once, in its order; bad lines out.

A line is bad when MLflow cannot read it (see `janitor.store.metrics`),
when it is not UTF-8, or when it is the torn last line of a file cut
short (no newline at the end), even if what is left of it parses: the
value may have lost digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from janitor.store.metrics import TORN, raw_line_problem


@dataclass
class CleanedMetric:
    kept: list[bytes] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)  # line numbers
    bad: list[tuple[int, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.duplicates or self.bad)

    def content(self) -> bytes:
        return b"".join(line + b"\n" for line in self.kept)


def clean_metric(raw: bytes, logged_model: bool = False) -> CleanedMetric:
    cleaned = CleanedMetric()
    lines = raw.split(b"\n")
    torn = lines[-1] != b""
    if not torn:
        lines.pop()
    seen: set[bytes] = set()
    for number, line in enumerate(lines, 1):
        if torn and number == len(lines):
            cleaned.bad.append((number, TORN))
        elif line in seen:
            cleaned.duplicates.append(number)
        else:
            seen.add(line)
            problem = raw_line_problem(line, logged_model)
            if problem:
                cleaned.bad.append((number, problem))
            else:
                cleaned.kept.append(line)
    return cleaned
