"""Entity resolution on ingest: spellings of one thing share a key, different things never do,
and every bad value is refused naming the field it came from."""

import json
import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import imo, iso6346

from intel.models import EntityType
from intel.resolution import (
    COMPANY_NUMBER_MODULES,
    ResolutionError,
    Resolved,
    name_similarity,
    normalize_country,
    resolve_address,
    resolve_company,
    resolve_container,
    resolve_email,
    resolve_person,
    resolve_phone,
    resolve_shipment,
    resolve_vessel,
)


def refused(call, *args, **kwargs) -> ResolutionError:
    with pytest.raises(ResolutionError) as info:
        call(*args, **kwargs)
    return info.value


# --- companies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "ACME Trading Ltd.",
        "Acme Trading Limited",
        "  acme   trading LTD ",
        "Trading Acme Ltd",
        "The ACME Trading Ltd",
    ],
)
def test_spellings_of_one_company_name_share_a_key(spelling):
    reference = resolve_company("ACME Trading Ltd.", "NL")
    company = resolve_company(spelling, "nl")
    assert company.key == reference.key == "NL:name:acme ltd trading"
    assert company.block == reference.block == "NL:acme"
    assert company.type == EntityType.COMPANY
    assert company.properties == {"name": spelling.strip(), "country": "NL"}


def test_same_name_in_another_country_is_another_company():
    assert resolve_company("ACME Trading", "NL").key != resolve_company("ACME Trading", "DE").key
    assert resolve_company("ACME Trading", "NL").block != resolve_company("ACME Trading", "DE").block


def test_company_with_a_registration_number_is_keyed_by_it_and_validated_with_stdnum():
    a = resolve_company("Acme BV", "NL", "NL004495445B01", field="importer_reg_no")
    b = resolve_company("ACME B.V. (Rotterdam)", "Netherlands", "0044.95.445.B.01")
    assert a.key == b.key == "NL:reg:004495445B01"
    assert a.properties["registration_number"] == "004495445B01"
    # The name still blocks it with its name-keyed near-duplicates.
    assert a.block == resolve_company("Acme Trading", "NL").block


def test_registration_numbers_stdnum_has_no_module_for_are_kept_compact():
    # A Dutch EORI number and a KvK number: neither is a VAT number, both are real identifiers.
    assert resolve_company("Acme", "NL", "nl 123456789").key == "NL:reg:NL123456789"
    assert resolve_company("Acme", "NL", "1234-5678").key == "NL:reg:12345678"
    assert resolve_company("Acme", "DE", "HRB 12345").key == "DE:reg:HRB12345"


def test_different_registration_numbers_never_share_a_key_even_with_one_name():
    a = resolve_company("Acme Trading Ltd", "GB", "GB980780684")
    b = resolve_company("Acme Trading Ltd", "GB", "GB123456782")
    assert a.key != b.key
    assert resolve_company("Acme", "NL", "12345678").key != resolve_company("Acme", "NL", "12345679").key


@given(
    st.lists(st.text(alphabet=string.ascii_uppercase + string.digits, min_size=1, max_size=12), unique=True)
)
@settings(max_examples=100)
def test_distinct_unvalidated_numbers_never_share_a_key(numbers):
    keys = set()
    for number in numbers:
        try:
            keys.add(resolve_company("Acme", "US", number).key)
        except ResolutionError:
            keys.add(number)  # refused, so it cannot collide with anything
    assert len(keys) == len(numbers)


def test_a_vat_number_with_a_wrong_check_digit_is_refused_naming_the_field():
    error = refused(resolve_company, "Acme", "GB", "GB980780685", field="importer_reg_no")
    assert error.field == "importer_reg_no"
    assert "check digit" in error.message
    assert str(error) == f"importer_reg_no: {error.message}"
    assert (
        refused(resolve_company, "Acme", "FR", "732829321", field="exporter_reg_no").field
        == "exporter_reg_no"
    )


@pytest.mark.parametrize("cc", sorted(COMPANY_NUMBER_MODULES))
def test_every_company_number_module_named_exists(cc):
    from stdnum import get_cc_module

    for name in COMPANY_NUMBER_MODULES[cc]:
        assert get_cc_module(cc, name) is not None, f"stdnum has no {cc}.{name}"


def test_company_name_and_country_are_required():
    assert refused(resolve_company, "   ", "NL", field="importer_reg_no").message == "name is required"
    assert refused(resolve_company, "Acme", "", field="importer_reg_no").field == "importer_reg_no"
    assert "no letters or digits" in refused(resolve_company, "!!!", "NL").message


# --- countries --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["NL", "nl", " NLD ", "528", "Netherlands"])
def test_country_codes_and_names_normalize_to_alpha_2(value):
    assert normalize_country(value, "importer_country") == "NL"


def test_reserved_codes_customs_data_uses_are_accepted():
    assert normalize_country("UK", "f") == "GB"
    assert normalize_country("EL", "f") == "GR"


@pytest.mark.parametrize("value", ["XX", "Holland", "ZZZ"])
def test_a_country_that_is_not_iso_3166_is_refused_naming_the_field(value):
    error = refused(normalize_country, value, "importer_country")
    assert error.field == "importer_country"
    assert error.message == f"{value!r} is not an ISO 3166-1 country code"


def test_country_is_required():
    assert str(refused(normalize_country, "  ", "importer_country")) == "importer_country: is required"
    assert refused(resolve_company, "Acme", "XX", field="importer_reg_no").message.startswith("country ")


# --- persons -------------------------------------------------------------------------


def test_spellings_of_one_person_share_a_key():
    keys = {
        resolve_person(name, "NL").key
        for name in ["John Smith", "Mr. John Smith", "SMITH, John", "john  smith"]
    }
    assert keys == {"NL:john smith"}
    assert resolve_person("Jan de Vries", "NL").key == resolve_person("De Vries, Jan", "NL").key


def test_date_of_birth_is_part_of_a_persons_key():
    with_dob = resolve_person("John Smith", "NL", "1980-02-01")
    assert with_dob.key == "NL:john smith:1980-02-01"
    assert with_dob.properties["date_of_birth"] == "1980-02-01"
    assert resolve_person("John Smith", "NL", "1980-02-02").key != with_dob.key
    assert resolve_person("John Smith", "DE", "1980-02-01").key != with_dob.key
    assert with_dob.block == resolve_person("Smith, John", "NL").block == "NL:john"


def test_bad_date_of_birth_is_refused_naming_the_field():
    assert refused(resolve_person, "John Smith", "NL", "01/02/1980", field="subject").field == "subject"
    assert "future" in refused(resolve_person, "John Smith", "NL", "2999-01-01").message


# --- vessels ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["IMO 9074729", "9074729", "imo9074729", "IMO: 9074729", " IMO-9074729 "]
)
def test_spellings_of_one_imo_number_share_a_key(spelling):
    vessel = resolve_vessel(spelling, "Ever Given", "pa")
    assert vessel.key == "imo:9074729"
    assert vessel.type == EntityType.VESSEL
    assert vessel.block == ""
    assert vessel.properties == {"imo": "9074729", "name": "Ever Given", "flag": "PA"}


@pytest.mark.parametrize("bad", ["IMO 9074728", "9074720", "12345", "IMO 90747290", "ABCDEFG"])
def test_bad_imo_numbers_are_refused_naming_the_field(bad):
    assert refused(resolve_vessel, bad).field == "vessel_imo"
    assert refused(resolve_vessel, bad, field="imo").field == "imo"


def test_imo_check_digit_error_says_so():
    assert "check digit" in refused(resolve_vessel, "IMO 9074728").message


def valid_imo_numbers():
    return st.integers(min_value=0, max_value=999_999).map(
        lambda n: f"{n:06d}" + imo.calc_check_digit(f"{n:06d}")
    )


@given(st.lists(valid_imo_numbers(), min_size=2, max_size=30, unique=True))
def test_distinct_imo_numbers_never_share_a_key(numbers):
    keys = [resolve_vessel(number).key for number in numbers]
    assert len(set(keys)) == len(numbers)
    assert all(key == f"imo:{number}" for key, number in zip(keys, numbers, strict=True))


@given(valid_imo_numbers(), st.integers(min_value=1, max_value=9))
def test_any_wrong_imo_check_digit_is_refused(number, shift):
    wrong = number[:6] + str((int(number[6]) + shift) % 10)
    with pytest.raises(ResolutionError):
        resolve_vessel(wrong)


def test_vessel_flag_is_validated():
    error = refused(resolve_vessel, "9074729", "Ever Given", "XX")
    assert error.field == "vessel_imo"
    assert "flag" in error.message


# --- containers ---------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["CSQU3054383", "csqu 305438 3", "CSQU 305438-3", "CSQU-305438-3"])
def test_spellings_of_one_container_share_a_key(spelling):
    container = resolve_container(spelling)
    assert container.key == "CSQU3054383"
    assert container.type == EntityType.CONTAINER


@pytest.mark.parametrize("bad", ["CSQU3054384", "CSQU305438", "1234567890A", ""])
def test_bad_container_numbers_are_refused_naming_the_field(bad):
    assert refused(resolve_container, bad, field="container_numbers").field == "container_numbers"


@given(
    st.text(alphabet=string.ascii_uppercase, min_size=3, max_size=3),
    st.sampled_from("UJZ"),
    st.lists(st.integers(min_value=0, max_value=999_999), min_size=2, max_size=20, unique=True),
)
def test_distinct_container_numbers_never_share_a_key(owner, category, serials):
    numbers = [f"{owner}{category}{serial:06d}" for serial in serials]
    keys = {resolve_container(number + iso6346.calc_check_digit(number)).key for number in numbers}
    assert len(keys) == len(numbers)


# --- addresses ------------------------------------------------------------------------


def test_address_spellings_share_a_key():
    a = resolve_address("12 Main St., Apt 4", "US", "10001")
    b = resolve_address("12 MAIN STREET  apartment 4", "us", "10 001")
    assert a.key == b.key == "US:10001:12 main street apartment 4"
    assert a.properties["postcode"] == "10001"
    assert a.properties["text"] == "12 Main St., Apt 4"


def test_address_abbreviations_follow_the_country():
    assert (
        resolve_address("Hauptstr. 5", "DE", "10115").key
        == resolve_address("Hauptstraße 5", "DE", "10115").key
    )
    assert resolve_address("Kaiser Str. 5", "DE").key == "DE::kaiser strasse 5"
    assert resolve_address("Kerkstr. 12", "NL", "1012 ab").key == "NL:1012AB:kerkstraat 12"
    assert resolve_address("Sunset Blvd 1", "US").key == resolve_address("Sunset Boulevard 1", "US").key
    assert resolve_address("5 Abbey Rd", "GB").key == "GB::5 abbey road"
    assert resolve_address("St Peter St 5", "GB").key == "GB::saint peter street 5"


def test_postcode_repeated_in_the_text_is_not_part_of_the_key():
    with_code = resolve_address("Kerkstraat 12, 1012 AB Amsterdam", "NL", "1012AB")
    assert with_code.key == resolve_address("Kerkstraat 12 Amsterdam", "NL", "1012 ab").key


def test_addresses_differ_by_country_and_postcode():
    assert resolve_address("Main Street 1", "US").key != resolve_address("Main Street 1", "GB").key
    assert (
        resolve_address("Main Street 1", "US", "10001").key
        != resolve_address("Main Street 1", "US", "10002").key
    )


def test_address_is_required():
    assert refused(resolve_address, " ", "NL", field="importer_address").field == "importer_address"
    assert refused(resolve_address, "Main St 1", "XX", field="importer_address").field == "importer_address"


# --- phones and emails ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "country"), [("020 123 4567", "NL"), ("+31 20 123 4567", None), ("0031201234567", "NL")]
)
def test_phone_spellings_share_an_e164_key(raw, country):
    phone = resolve_phone(raw, country)
    assert phone.key == "+31201234567"
    assert phone.properties == {"number": "+31201234567", "country": "NL"}


@pytest.mark.parametrize(("raw", "country"), [("12345", "NL"), ("not a phone", "NL"), ("020 123 4567", None)])
def test_bad_phones_are_refused_naming_the_field(raw, country):
    assert refused(resolve_phone, raw, country, field="importer_phone").field == "importer_phone"


@pytest.mark.parametrize(
    "raw", ["John.Doe@Example.COM", " john.doe@example.com ", "mailto:JOHN.DOE@example.com"]
)
def test_email_spellings_share_a_lower_case_key(raw):
    assert resolve_email(raw).key == "john.doe@example.com"


@pytest.mark.parametrize("raw", ["not-an-email", "john@", "@example.com", "john doe@example.com", "   "])
def test_bad_emails_are_refused_naming_the_field(raw):
    assert refused(resolve_email, raw, field="importer_email").field == "importer_email"


# --- shipments, similarity, shape ----------------------------------------------------


def test_shipment_key_is_agency_and_reference():
    shipment = resolve_shipment("cus-nl", " SHP-1 ")
    assert shipment.key == "cus-nl:SHP-1"
    assert resolve_shipment("cus-de", "SHP-1").key != shipment.key
    assert refused(resolve_shipment, "cus-nl", " ").field == "external_ref"


def test_name_similarity_compares_fingerprints():
    assert name_similarity("Acme Trading Ltd", "ACME Trading Limited") == 100
    assert name_similarity("Acme Trading Ltd", "Acme Tradng Ltd") >= 90
    assert name_similarity("Acme Trading Ltd", "Globex Shipping GmbH") < 50
    assert name_similarity("", "Acme") == 0


def test_every_resolved_value_is_json_serialisable_and_keys_hold_no_raw_input():
    results = [
        resolve_company("  ACME Trading Ltd. ", "nl"),
        resolve_company("Acme", "NL", "nl 0044.95.445.b.01"),
        resolve_person("Mr. JOHN Smith", "nl", "1980-02-01"),
        resolve_vessel("imo 9074729", "Ever Given", "pa"),
        resolve_container("csqu 305438-3"),
        resolve_address("12 Main St., Apt 4", "us", "10 001"),
        resolve_phone("020 123 4567", "NL"),
        resolve_email("John.Doe@Example.COM"),
    ]
    for result in results:
        assert isinstance(result, Resolved)
        json.dumps(result.properties)
        assert result.search_text == result.search_text.lower()
        assert not re.search(r"\s{2}|^\s|\s$", result.key)


def test_long_names_give_bounded_deterministic_keys():
    name = "Acme " + " ".join(f"word{n}" for n in range(200))
    a, b = resolve_company(name, "NL"), resolve_company(name, "NL")
    assert a.key == b.key
    assert len(a.key) <= 400
    assert len(a.block) <= 120
    assert resolve_company(name + " extra", "NL").key != a.key
