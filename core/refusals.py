"""What a page says of a service's refusal, in one line by a message."""

from django.core.exceptions import PermissionDenied, ValidationError


def refusal(error: ValidationError | PermissionDenied) -> str:
    """Each field and why (a refusal not of fields, its messages); a permission's reason."""
    if isinstance(error, PermissionDenied):
        return str(error)
    if not hasattr(error, "error_dict"):
        return "; ".join(error.messages)
    return "; ".join(f"{field}: {' '.join(why)}" for field, why in error.message_dict.items())
