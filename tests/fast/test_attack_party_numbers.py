"""Every country's party numbers, attacked: a row naming a person of each nationality with
hostile national ID and passport numbers, and a company of each country with a hostile
registration and phone number, is parsed into a plan or refused naming the field; never
another exception (a worker crash, the batch failed with no row named)."""

import pycountry
import pytest

from intel.import_validation import parse_row

HOSTILE = [
    "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",  # Arabic-Indic digits
    "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19",  # full-width digits
    "\U0001d7cf\U0001d7d0\U0001d7d1\U0001d7d2\U0001d7d3\U0001d7d4\U0001d7d5\U0001d7d6\U0001d7d7",
    "\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u00b9",  # superscripts
    "123456789",
    "0" * 20,
    "9" * 300,
    "-",
    "....",
    "12345678901234567890",
    "AB123456C",
    "+",
    "+999999999999999999",
    "ß" * 10,
]


@pytest.mark.parametrize("country", sorted(c.alpha_2 for c in pycountry.countries))
def test_hostile_numbers_of_every_country_are_a_plan_or_a_named_error(country):
    for value in HOSTILE:
        row = {
            "external_ref": "X-1",
            "category": "investigation",
            "case_reference": "C-1",
            "occurred_on": "2026-01-01",
            "subject": [
                {
                    "name": "Jan de Vries",
                    "nationality": country,
                    "id_numbers": [value],
                    "passport_numbers": [value],
                    "phone": value,
                }
            ],
            "importer": {"name": "Acme", "country": country, "reg_no": value, "phone": value},
        }
        plan, errors = parse_row(1, row, "cus")
        assert (plan is None) == bool(errors)
        fields = {error["field"] for error in errors}
        assert fields <= {
            "subject[0].id_numbers",
            "subject[0].passport_numbers",
            "subject[0].phone",
            "importer.reg_no",
            "importer.phone",
        }, (country, value, errors)
