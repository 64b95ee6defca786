"""What changed, for whoever keeps a projection of the records (the graph sync).

Both signals are sent inside the transaction that makes the change, so a receiver that
writes an outbox row commits or rolls back with it. `intel` does not know who listens:
the dependency points from `graph` to `intel`, never back.

- `records_changed(record_ids=...)`: a record was created, changed or deleted, or who may
  see it changed. `record_ids` is a list of ids or a QuerySet of records (for a change of
  visibility that covers many records at once, so the receiver can insert from a query).
- `entities_changed(entity_ids=...)`: an entity's mentions or links moved (merge, undo).
"""

from django.dispatch import Signal

records_changed = Signal()
entities_changed = Signal()
