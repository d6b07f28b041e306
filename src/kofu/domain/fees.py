"""Kiosk fees (コンビニ交付手数料): whole yen per copy, per certificate kind.

Each municipality sets its own kiosk fee for each kind; it may differ from
the counter fee (seed 002: several Hyogo municipalities charge less at the
kiosk). Money is always an ``int`` of yen.

>>> schedule = FeeSchedule.from_mapping({"juminhyo": 200})
>>> schedule.total("juminhyo", 3)
600

Errors::

    FeeError (ValueError)
     └── (raised for a malformed schedule or a kind without a fee)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MAX_FEE_YEN = 100_000
"""A sanity bound: no certificate costs more than this per copy."""


class FeeError(ValueError):
    """A fee schedule is malformed, or a kind has no fee; the message names the kind."""


@dataclass(frozen=True)
class FeeSchedule:
    """Kiosk fee per copy for each kind a municipality prices."""

    per_copy_yen: tuple[tuple[str, int], ...]
    """(kind, yen) pairs, sorted by kind so that equal schedules compare equal."""

    @classmethod
    def from_mapping(cls, fees: Mapping[str, int]) -> FeeSchedule:
        for kind, yen in fees.items():
            # bool is an int in Python; a fee of True yen is a data error.
            if not isinstance(yen, int) or isinstance(yen, bool):
                raise FeeError(f"fee for {kind!r} must be an integer number of yen, got {yen!r}")
            if not 0 <= yen <= MAX_FEE_YEN:
                raise FeeError(f"fee for {kind!r} must be between 0 and {MAX_FEE_YEN} yen, got {yen}")
        return cls(tuple(sorted(fees.items())))

    def as_dict(self) -> dict[str, int]:
        return dict(self.per_copy_yen)

    def kinds(self) -> frozenset[str]:
        return frozenset(kind for kind, _ in self.per_copy_yen)

    def per_copy(self, kind: str) -> int:
        for k, yen in self.per_copy_yen:
            if k == kind:
                return yen
        raise FeeError(f"no kiosk fee is set for {kind!r}")

    def total(self, kind: str, copies: int) -> int:
        """The fee for ``copies`` copies of ``kind``: per-copy fee × copies."""
        if copies < 1:
            raise FeeError(f"copies must be at least 1, got {copies}")
        return self.per_copy(kind) * copies
