"""What every app may use and that knows no app: public ids, input bounds, pagination, and
migration helpers. The bottom of the layers (docs/architecture.md)."""
