"""Every weight, window, cut-off and target of the CRM figures, with its documented default.

Each value can be overridden from the environment with the prefix `CRM_` (for example
`CRM_TIER_WEIGHTS='{"count": 0.4, "avg_revenue": 0.1, "revenue": 0.3, "margin": 0.2}'` or
`CRM_A_SHARE=0.15`); backend/crm/README.md explains what each one means.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class CrmSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", env_file=None, extra="ignore")

    # ---- value pyramid (ABC)
    # Days of shipments the value score looks back over.
    window_days: int = 365
    # Weight of each measure's percentile rank among active customers (they need not sum to 1).
    tier_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "count": 0.30,
            "avg_revenue": 0.15,
            "revenue": 0.30,
            "margin": 0.25,
        }
    )
    # Share of active customers in tier A, and in tier B (the rest are C).
    a_share: float = 0.20
    b_share: float = 0.30

    # ---- churn risk
    # The recent period compared with the customer's own earlier rate.
    recent_days: int = 90
    # Prior chance that a customer is still shipping, before their current silence is seen.
    alive_prior: float = 0.9
    # How much each rule adds to the risk (0..1): a frequency drop, a service problem (lost or
    # damaged parcels), open or repeated complaints, unhappy survey answers.
    rule_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "frequency": 0.35,
            "service": 0.35,
            "complaints": 0.35,
            "satisfaction": 0.35,
        }
    )
    # Complaints in the recent period, as a share of the customer's recent shipments, from
    # which they count (an open complaint always counts).
    complaint_share: float = 0.1
    # Share of recent survey answers about the customer's parcels that are unhappy (CSAT 1-2
    # or NPS 0-6) from which it counts.
    unhappy_share: float = 0.5
    # ... among at least this many answers.
    unhappy_min_answers: int = 3
    # A frequency drop counts when the recent rate is below this share of the earlier rate.
    frequency_drop_below: float = 0.6
    # Earlier shipments needed before a frequency drop can be judged.
    frequency_min_expected: float = 2.0
    # Overdue when the days since the last shipment exceed this many usual gaps.
    overdue_gaps: float = 2.0
    # ... and at least this many days.
    overdue_min_days: int = 14
    # Lost or damaged share of recent shipments that counts as a service problem.
    service_failure_rate: float = 0.03
    # Risk at or above which a customer is on the at-risk list ("high"); "medium" from here.
    high_risk: float = 0.6
    medium_risk: float = 0.35
    # Months held back when the churn rules are evaluated against what happened.
    evaluation_holdout_days: int = 90

    # ---- satisfaction index targets, in each indicator's unit (shares 0..1, complaints per
    # 1,000 shipments, hours, NPS points)
    targets: dict[str, float] = Field(
        default_factory=lambda: {
            "on_time_rate": 0.95,
            "completion_rate": 0.98,
            "damage_rate": 0.01,
            "loss_rate": 0.003,
            "complaint_rate": 10.0,
            "resolution_hours": 24.0,
            "sla_compliance": 0.95,
            "csat": 0.80,
            "nps": 30.0,
            "response_rate": 0.30,
        }
    )

    # ---- scheduler
    # Minutes between recomputations inside the backend; 0 switches the schedule off.
    recompute_minutes: int = 360

    @model_validator(mode="after")
    def _check(self) -> CrmSettings:
        if not (self.a_share > 0 and self.b_share >= 0 and self.a_share + self.b_share <= 1):
            raise ValueError("CRM_A_SHARE and CRM_B_SHARE must be positive and sum to at most 1")
        if set(self.rule_weights) != {"frequency", "service", "complaints", "satisfaction"}:
            raise ValueError("CRM_RULE_WEIGHTS needs frequency, service, complaints, satisfaction")
        if set(self.tier_weights) != {"count", "avg_revenue", "revenue", "margin"}:
            raise ValueError("CRM_TIER_WEIGHTS needs count, avg_revenue, revenue and margin")
        if not 0 < self.alive_prior < 1:
            raise ValueError("CRM_ALIVE_PRIOR must lie strictly between 0 and 1")
        if self.window_days <= self.recent_days:
            raise ValueError("CRM_WINDOW_DAYS must be longer than CRM_RECENT_DAYS")
        return self


@lru_cache
def get_crm_settings() -> CrmSettings:
    return CrmSettings()
