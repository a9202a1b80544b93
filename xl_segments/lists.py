"""Contact lists: who may be emailed. Consent and the suppression list are applied here only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from xl_segments.settings import DEFAULTS, Settings


@dataclass(frozen=True)
class LeftOut:
    """How many customers a contact list left out, and why."""

    no_consent: int = 0
    suppressed: int = 0

    @property
    def total(self) -> int:
        return self.no_consent + self.suppressed


def suppressed_mask(customers: pd.DataFrame, settings: Settings) -> np.ndarray:
    """Customers whose normalized email is on the suppression list (never opt-out-able)."""
    if not settings.suppressed_emails:
        return np.zeros(len(customers), dtype=bool)
    keys = customers["email_key"].astype(object)
    return keys.isin(settings.suppressed_emails).to_numpy(dtype=bool)


def no_consent_mask(customers: pd.DataFrame, has_consent: bool, settings: Settings) -> np.ndarray:
    """Customers without marketing consent (unknown counts as no) when a consent column exists.

    Empty when the user opted in to include them (include_non_consenting).
    """
    if not has_consent or settings.include_non_consenting:
        return np.zeros(len(customers), dtype=bool)
    return ~customers["consent"].fillna(False).to_numpy(dtype=bool)


def contact_list(
    customers: pd.DataFrame, has_consent: bool, settings: Settings = DEFAULTS
) -> tuple[pd.DataFrame, LeftOut]:
    """The customers of a list who may be contacted, and the count left out.

    Suppressed addresses are always left out; customers without consent are left out unless
    include_non_consenting is set. A customer both suppressed and without consent counts as
    suppressed.
    """
    suppressed = suppressed_mask(customers, settings)
    no_consent = no_consent_mask(customers, has_consent, settings) & ~suppressed
    keep = ~(suppressed | no_consent)
    return customers[keep].reset_index(drop=True), LeftOut(
        no_consent=int(no_consent.sum()), suppressed=int(suppressed.sum())
    )
