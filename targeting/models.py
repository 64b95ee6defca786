"""Risk-based targeting of an agency's shipment declarations: the agency's risk profile
(versioned weights and watch-lists), each declaration's score with its explanation, the
scoring run that keeps them current, the decisions taken on the queue with their outcomes,
and the stored evaluations of the method on a scenario whose violations are known."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from agencies.models import Agency, User
from core.identity import PublicIdentity
from intel.models import Record


class RiskProfile(PublicIdentity):
    """One version of an agency's weights, watch-lists and inspection budget. Exactly one
    version is active; a change is a new version with who made it and why (and an audit
    event), and a proposal (from `fit_risk_weights`) waits with its validation figures until
    an agency admin accepts or rejects it."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUPERSEDED = "superseded", "Superseded"
        PROPOSED = "proposed", "Proposed"
        REJECTED = "rejected", "Rejected"

    # Indexed by `risk_profile_version`, which leads with it.
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+", db_index=False)
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices)
    weights = models.JSONField(help_text="Indicator name to its weight")
    watchlists = models.JSONField(default=dict, help_text="ports, countries and hs_prefixes on watch")
    budget = models.FloatField(help_text="The share of declarations the agency can inspect")
    random_share = models.FloatField(help_text="The share of inspections drawn at random")
    reason = models.TextField()
    validation = models.JSONField(default=dict, blank=True, help_text="A proposal's validation figures")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["agency", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "version"], name="risk_profile_version"),
            models.UniqueConstraint(
                fields=["agency"], condition=Q(status="active"), name="risk_profile_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency_id} v{self.version} ({self.status})"


class ScoringRun(models.Model):
    """The agency's scoring of its declarations: one row per agency, the latest run, with its
    progress and the basis (the graph sync's version of what the agency may see, or a digest
    of it without the sync: `graph.jobs.visibility_basis`) it read."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    profile = models.ForeignKey(RiskProfile, on_delete=models.PROTECT, null=True, related_name="+")
    basis = models.BigIntegerField(null=True, blank=True)
    computed_with = models.CharField(
        max_length=20, blank=True, help_text="The versions of the analyses and the scoring that ran it"
    )
    scored = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"scoring of {self.agency_id} ({self.status})"


class ShipmentScore(models.Model):
    """A declaration's score for its owner agency: the sum of `parts`, one per indicator that
    fired (name, weight, value, contribution, explanation and the evidence behind it)."""

    # Indexed by `shipment_score_once` and `shipment_score_queue`, which lead with it.
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+", db_index=False)
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    occurred_on = models.DateField(null=True, blank=True)
    score = models.FloatField()
    rules_score = models.FloatField()
    parts = models.JSONField()
    fired = models.CharField(
        max_length=400,
        blank=True,
        help_text="Fired indicators as ,name,name, (the queue's filter)",
    )
    profile = models.ForeignKey(RiskProfile, on_delete=models.PROTECT, related_name="+")
    basis = models.BigIntegerField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "record"], name="shipment_score_once")]
        indexes = [models.Index(fields=["agency", "-score", "record"], name="shipment_score_queue")]

    def __str__(self) -> str:
        return f"{self.record_id}: {self.score}"


class Decision(PublicIdentity):
    """What the agency decided on a declaration, by whom and why, with the score and the
    indicators' values it was decided on, and later what the inspection found."""

    class Action(models.TextChoices):
        INSPECT = "inspect", "Inspect"
        RELEASE = "release", "Release"
        REFER = "refer", "Refer to a partner"

    class Outcome(models.TextChoices):
        NOTHING_FOUND = "nothing_found", "Nothing found"
        SEIZURE = "seizure", "Seizure"
        OTHER_VIOLATION = "other_violation", "Other violation"

    # Indexed by `decision_once` and `decision_recent`, which lead with it.
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+", db_index=False)
    record = models.ForeignKey(Record, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    random_pick = models.BooleanField(
        default=False, help_text="Chosen by the random inspection share, not by its score"
    )
    partner = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reason = models.TextField()
    score = models.FloatField(null=True, blank=True)
    indicators = models.JSONField(default=dict, help_text="Each indicator's value when decided")
    profile = models.ForeignKey(
        RiskProfile, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    outcome_record = models.ForeignKey(
        Record, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outcome_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    outcome_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "record"], name="decision_once")]
        indexes = [models.Index(fields=["agency", "-decided_at"], name="decision_recent")]


class Evaluation(PublicIdentity):
    """One run of `evaluate_targeting` on the scenario: its parameters, its figures and the
    plot of capture against inspection rate."""

    parameters = models.JSONField()
    results = models.JSONField()
    plot = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
