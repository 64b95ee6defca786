import pycountry
from django.core.exceptions import ValidationError

from core.inputs import quoted


def validate_country(value: str) -> None:
    if not value or pycountry.countries.get(alpha_2=value.upper()) is None:
        raise ValidationError(f"{quoted(value)} is not an ISO 3166-1 alpha-2 country code")
