from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.log import publish_head, verify_chain, verify_published_heads
from audit.models import AuditEvent


class Command(BaseCommand):
    help = (
        "Verifies the audit log's hash chain and the heads published to AUDIT_HEAD_FILE, "
        "and names every edited or removed event."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--head",
            help="ID:HASH of the newest event a previous run reported; checks that nothing after "
            "it was cut off the end of the log",
        )
        parser.add_argument(
            "--publish",
            action="store_true",
            help="when the log verifies, publish its current head to AUDIT_HEAD_FILE",
        )

    def handle(self, *args, head: str | None = None, publish: bool = False, **options) -> None:
        problems = [str(problem) for problem in verify_chain()]
        problems += [str(problem) for problem in verify_published_heads()]
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
        if publish and last:
            publish_head(event_id=last[0], event_hash=last[1])
            self.stdout.write(f"head {head_text} published to {settings.AUDIT_HEAD_FILE}")
