"""Receivers of intel's change signals: each writes outbox rows in the sender's own
transaction, so the change and the note that the graph must follow commit together."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from graph.outbox import enqueue_entities, enqueue_records


def on_records_changed(sender: object, record_ids: Iterable[int] | QuerySet, **kwargs: object) -> None:
    enqueue_records(record_ids)


def on_entities_changed(sender: object, entity_ids: Iterable[int] | QuerySet, **kwargs: object) -> None:
    enqueue_entities(entity_ids)
