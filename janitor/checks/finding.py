"""A finding: one problem in a store, in a form reports can render."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    path: str
    message: str
    hint: str
    experiment_id: str | None = None
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.label,
            "path": self.path,
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
            "message": self.message,
            "hint": self.hint,
        }

    def sort_key(self) -> tuple[int, str, str]:
        return (-self.severity, self.path, self.code)
