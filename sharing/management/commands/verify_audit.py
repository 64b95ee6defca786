from django.core.management.base import BaseCommand, CommandError

from sharing.audit import verify_chain
from sharing.models import AuditEvent


class Command(BaseCommand):
    help = "Verifies the audit log's hash chain and names every edited or removed event."

    def add_arguments(self, parser):
        parser.add_argument(
            "--head",
            help="ID:HASH of the newest event a previous run reported; checks that nothing after "
            "it was cut off the end of the log",
        )

    def handle(self, *args, head: str | None = None, **options) -> None:
        problems = [str(problem) for problem in verify_chain()]
        if head:
            event_id, _, expected = head.partition(":")
            stored = AuditEvent.objects.filter(pk=event_id).values_list("hash", flat=True).first()
            if stored != expected:
                problems.append(f"event #{event_id}: the head reported earlier is missing or changed")
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"the audit log has {len(problems)} problem(s)")
        last = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
        count = AuditEvent.objects.count()
        head_text = f"{last[0]}:{last[1]}" if last else "(empty)"
        self.stdout.write(self.style.SUCCESS(f"audit log intact: {count} events, head {head_text}"))
