"""The one result shape both mlverify checks answer (image match and page classification).

The API serializes it as ``{"status", "match"|"is_product", "score", "threshold", "method",
"model", "reason"}`` (plus ``calibrated`` for the image check, ``page_type`` for the page
check). When a model is unavailable
the check still answers, with ``status="unavailable"``, nulls and the reason: never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "unavailable"]


@dataclass(frozen=True)
class CheckResult:
    status: Status
    value: bool | None  # match (image) or is_product (page)
    score: float | None
    threshold: float | None
    method: str | None  # "clip", "text", "model", "model+page", "page"...
    model: str | None  # model name + version
    reason: str | None
    calibrated: bool | None = None
    page_type: str | None = None  # page check only: "product", "collection", "other"

    @classmethod
    def unavailable(
        cls, reason: str, *, model: str | None = None, method: str | None = None
    ) -> CheckResult:
        """A check that could not run: nulls and the reason (the API answers 200 with it)."""
        return cls(
            status="unavailable",
            value=None,
            score=None,
            threshold=None,
            method=method,
            model=model,
            reason=reason,
        )

    def as_dict(self, value_key: str) -> dict[str, object]:
        """Serialize with ``value_key`` ("match" or "is_product") naming the boolean."""
        data: dict[str, object] = {
            "status": self.status,
            value_key: self.value,
            "score": self.score,
            "threshold": self.threshold,
            "method": self.method,
            "model": self.model,
            "reason": self.reason,
        }
        if value_key == "is_product":
            data["page_type"] = self.page_type
        if self.calibrated is not None:
            data["calibrated"] = self.calibrated
        return data
