import pycountry
from django.core.exceptions import ValidationError


def validate_country(value: str) -> None:
    if not value or pycountry.countries.get(alpha_2=value.upper()) is None:
        raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
