"""Every threshold and switch of the engine, in one frozen object with documented defaults."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from xl_segments.errors import SettingsError

ChannelMetric = Literal[
    "revenue_per_customer", "repeat_rate", "average_order_value", "revenue", "customers"
]
CHANNEL_METRICS: tuple[str, ...] = (
    "revenue_per_customer",
    "repeat_rate",
    "average_order_value",
    "revenue",
    "customers",
)
GapStatistic = Literal["median", "mean"]


@dataclass(frozen=True)
class Settings:
    """The rules that turn orders into lists. Defaults are documented in docs/definitions.md."""

    # When "today" is for recency and churn. None: the latest order date in the data.
    as_of: dt.date | None = None
    # Biggest spenders: the top share of customers flagged and listed.
    top_share: float = 0.2
    # Pareto: what share of customers is needed to reach this share of revenue.
    revenue_share: float = 0.8
    # Channels: how many to flag as top, ranked by which metric, and the smallest channel ranked.
    top_channels: int = 3
    min_channel_customers: int = 10
    rank_channels_by: ChannelMetric = "revenue_per_customer"
    # Repeat customers list: one named channel instead of the top channels.
    repeat_channel: str | None = None
    # Churn: at risk past expected gap x churn_multiplier, lapsed past x lapsed_multiplier.
    churn_multiplier: float = 1.0
    lapsed_multiplier: float = 3.0
    min_purchases_for_own_gap: int = 3
    store_gap_statistic: GapStatistic = "median"
    # Monthly churn window in days; None: store average gap x lapsed_multiplier.
    churn_window_days: float | None = None
    # Consent: customers who did not accept marketing stay out of contact lists unless True.
    include_non_consenting: bool = False
    # Emails never to contact, matched case- and space-insensitively.
    suppressed_emails: frozenset[str] = frozenset()
    # Reading: date text format (strftime codes), decimal comma, 1904 date system, time zone.
    date_format: str | None = None
    decimal_comma: bool = False
    date_system_1904: bool = False
    timezone: str = "UTC"
    # Explicit column mapping: our field name -> the user's header. Overrides guessing.
    column_mapping: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_share("top_share", self.top_share)
        _check_share("revenue_share", self.revenue_share)
        _check_whole("top_channels", self.top_channels, minimum=1)
        _check_whole("min_channel_customers", self.min_channel_customers, minimum=1)
        _check_whole("min_purchases_for_own_gap", self.min_purchases_for_own_gap, minimum=2)
        if self.rank_channels_by not in CHANNEL_METRICS:
            raise SettingsError(
                f"rank_channels_by must be one of {', '.join(CHANNEL_METRICS)}; "
                f"got {self.rank_channels_by!r}."
            )
        if self.store_gap_statistic not in ("median", "mean"):
            raise SettingsError(
                f"store_gap_statistic must be median or mean; got {self.store_gap_statistic!r}."
            )
        _check_positive("churn_multiplier", self.churn_multiplier)
        _check_positive("lapsed_multiplier", self.lapsed_multiplier)
        if self.lapsed_multiplier < self.churn_multiplier:
            raise SettingsError(
                "lapsed_multiplier must be at least churn_multiplier "
                f"(got {self.lapsed_multiplier} and {self.churn_multiplier})."
            )
        if self.churn_window_days is not None:
            _check_positive("churn_window_days", self.churn_window_days)
        if self.as_of is not None and not isinstance(self.as_of, dt.date):
            raise SettingsError(f"as_of must be a date; got {self.as_of!r}.")
        if isinstance(self.as_of, dt.datetime):
            object.__setattr__(self, "as_of", self.as_of.date())
        normalized = frozenset(normalize_email(e) for e in self.suppressed_emails if e)
        object.__setattr__(self, "suppressed_emails", normalized - {""})
        object.__setattr__(self, "column_mapping", dict(self.column_mapping))

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_values(cls, values: Mapping[str, Any], base: Settings | None = None) -> Settings:
        """Settings from loosely typed values, as they come from cells or a command line.

        Accepts "20%" or 0.2 for shares, "Yes"/"No"/TRUE for switches, dates, Excel serials or
        ISO text for as_of. Blank values keep the base (default) setting.
        """
        base = base or DEFAULTS
        changes: dict[str, Any] = {}
        for name, raw in values.items():
            spec = SETTING_SPECS_BY_NAME.get(name)
            if spec is None:
                raise SettingsError(
                    f"Unknown setting {name!r}; known settings: {', '.join(SETTING_NAMES)}."
                )
            if _is_blank(raw):
                continue
            changes[name] = spec.coerce(raw)
        return dataclasses.replace(base, **changes)

    def describe(self) -> list[tuple[str, str]]:
        """(label, value as text) for every setting, for the Summary sheet."""
        rows = []
        for spec in SETTING_SPECS:
            value = getattr(self, spec.name)
            rows.append((spec.label, spec.display(value)))
        return rows


def normalize_email(email: str) -> str:
    """The form emails are matched in: without any white space, lower case."""
    return "".join(str(email).split()).lower()


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _named(name: str) -> str:
    """A setting as users know it: 'Top share of customers (top_share)'."""
    spec = SETTING_SPECS_BY_NAME.get(name)
    return f'"{spec.label}" ({name})' if spec else name


def _check_share(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not 0 < value <= 1:
        shown = f"{value:.0%}" if isinstance(value, (int, float)) else repr(value)
        raise SettingsError(
            f"{_named(name)} must be a share above 0% and at most 100%; got {shown}."
        )


def _check_positive(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
        raise SettingsError(f"{_named(name)} must be a number greater than 0; got {value!r}.")


def _check_whole(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SettingsError(
            f"{_named(name)} must be a whole number of at least {minimum}; got {value!r}."
        )


# --- How each setting appears on a Settings sheet and is read back from a cell -------------

SettingKind = Literal["date", "share", "whole", "number", "choice", "switch", "text", "emails"]


@dataclass(frozen=True)
class SettingSpec:
    """One setting as a user sees it: its cell name, label, help text and accepted values."""

    name: str
    label: str
    description: str
    kind: SettingKind
    choices: tuple[str, ...] = ()

    @property
    def cell_name(self) -> str:
        """The defined name of the setting's value cell on the Settings sheet."""
        return f"xls_{self.name}"

    def coerce(self, raw: Any) -> Any:
        try:
            return _COERCERS[self.kind](raw, self)
        except SettingsError:
            raise
        except (TypeError, ValueError, OverflowError):
            raise SettingsError(
                f"Setting {self.label!r} ({self.name}): cannot read {raw!r} as {self.kind}."
            ) from None

    def display(self, value: Any) -> str:
        if value is None:
            return "(automatic)"
        if self.kind == "share":
            return f"{value:.0%}" if round(value * 100) == value * 100 else f"{value:.2%}"
        if self.kind == "switch":
            return "Yes" if value else "No"
        if self.kind == "emails":
            return f"{len(value)} addresses"
        if self.kind == "date":
            return value.isoformat()
        return str(value)


def _to_date(raw: Any, spec: SettingSpec) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return (dt.datetime(1899, 12, 30) + dt.timedelta(days=float(raw))).date()
    return dt.date.fromisoformat(str(raw).strip()[:10])


def _to_share(raw: Any, spec: SettingSpec) -> float:
    if isinstance(raw, str):
        text = raw.strip()
        if text.endswith("%"):
            return float(text[:-1]) / 100
        raw = float(text)
    value = float(raw)
    # A share typed as 20 in a cell without percent format means 20%.
    return value / 100 if 1 < value <= 100 else value


def _to_whole(raw: Any, spec: SettingSpec) -> int:
    value = float(raw)
    if not value.is_integer():
        raise SettingsError(f"Setting {spec.label!r} ({spec.name}) must be a whole number.")
    return int(value)


def _to_switch(raw: Any, spec: SettingSpec) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)):
        return bool(raw)
    text = str(raw).strip().casefold()
    if text in ("yes", "y", "true", "1", "on"):
        return True
    if text in ("no", "n", "false", "0", "off"):
        return False
    raise SettingsError(f"Setting {spec.label!r} ({spec.name}) must be Yes or No; got {raw!r}.")


def _to_choice(raw: Any, spec: SettingSpec) -> str:
    text = str(raw).strip()
    wanted = text.casefold().replace(" ", "_")
    for choice in spec.choices:
        if choice.casefold() == wanted:
            return choice
    raise SettingsError(
        f"Setting {spec.label!r} ({spec.name}) must be one of {', '.join(spec.choices)}; "
        f"got {raw!r}."
    )


def _to_emails(raw: Any, spec: SettingSpec) -> frozenset[str]:
    if isinstance(raw, str):
        parts = raw.replace(";", ",").replace("\n", ",").split(",")
    else:
        parts = [str(x) for x in raw]
    return frozenset(p.strip() for p in parts if p and p.strip())


_COERCERS = {
    "date": _to_date,
    "share": _to_share,
    "whole": _to_whole,
    "number": lambda raw, spec: float(str(raw).strip()) if isinstance(raw, str) else float(raw),
    "choice": _to_choice,
    "switch": _to_switch,
    "text": lambda raw, spec: str(raw).strip(),
    "emails": _to_emails,
}

SETTING_SPECS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "as_of",
        "As-of date",
        "The day the lists are computed for. Blank: the latest order date in the data.",
        "date",
    ),
    SettingSpec(
        "top_share",
        "Top share of customers",
        "Share of customers listed as top spenders (20% = the best fifth).",
        "share",
    ),
    SettingSpec(
        "revenue_share",
        "Revenue share for the Pareto point",
        "The Pareto point: what share of customers brings this share of revenue.",
        "share",
    ),
    SettingSpec(
        "top_channels",
        "Top channels",
        "How many acquisition channels are flagged as top performers.",
        "whole",
    ),
    SettingSpec(
        "min_channel_customers",
        "Minimum customers per channel",
        "Channels with fewer acquired customers are shown but never ranked.",
        "whole",
    ),
    SettingSpec(
        "rank_channels_by",
        "Rank channels by",
        "The figure channels are ranked by.",
        "choice",
        CHANNEL_METRICS,
    ),
    SettingSpec(
        "repeat_channel",
        "Repeat customers from channel",
        "One channel for the repeat customers list. Blank: the top channels.",
        "text",
    ),
    SettingSpec(
        "churn_multiplier",
        "At-risk multiplier",
        "A customer is at risk when the days "
        "since their last order exceed their expected gap times this.",
        "number",
    ),
    SettingSpec(
        "lapsed_multiplier",
        "Lapsed multiplier",
        "A customer has lapsed (churned) when "
        "the days since their last order exceed their expected gap times this.",
        "number",
    ),
    SettingSpec(
        "min_purchases_for_own_gap",
        "Purchases for own rhythm",
        "From this many purchase days on, a customer's own average gap is their expected gap.",
        "whole",
    ),
    SettingSpec(
        "store_gap_statistic",
        "Store gap statistic",
        "How the store's typical gap is taken from repeat customers' own gaps: median or mean.",
        "choice",
        ("median", "mean"),
    ),
    SettingSpec(
        "churn_window_days",
        "Churn window (days)",
        "Monthly churn: days without a "
        "purchase after which a customer counts as churned. Blank: store gap x lapsed "
        "multiplier.",
        "number",
    ),
    SettingSpec(
        "include_non_consenting",
        "Include customers without marketing consent",
        "No (recommended): contact lists leave out customers who did not accept marketing.",
        "switch",
    ),
    SettingSpec(
        "suppressed_emails",
        "Suppressed emails",
        "Addresses never to list, separated by commas (or list them on a 'Suppression' sheet).",
        "emails",
    ),
    SettingSpec(
        "date_format",
        "Date format of text dates",
        "For dates typed as text such as "
        "03/04/2024: %d/%m/%Y (day first) or %m/%d/%Y (month first).",
        "text",
    ),
    SettingSpec(
        "decimal_comma",
        "Decimal comma in amounts",
        "Yes when text amounts are written 1.234,50.",
        "switch",
    ),
    SettingSpec(
        "date_system_1904",
        "1904 date system",
        "Yes when date serial numbers use Excel's 1904 date system (old Mac workbooks).",
        "switch",
    ),
    SettingSpec(
        "timezone",
        "Time zone",
        "Times with a time zone are converted to this zone "
        "(an IANA name such as Europe/Berlin) before taking the calendar day.",
        "text",
    ),
)
SETTING_SPECS_BY_NAME: dict[str, SettingSpec] = {s.name: s for s in SETTING_SPECS}
SETTING_NAMES: tuple[str, ...] = tuple(SETTING_SPECS_BY_NAME)

DEFAULTS = Settings()
