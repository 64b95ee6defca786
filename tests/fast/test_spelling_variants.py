"""Spellings that real files mix for one name or one address, folded to one, and nearby
spellings of different things kept apart. Expectations written by hand."""

import pytest

from intel.resolution import name_fingerprint, normalize_address


@pytest.mark.parametrize(
    "spellings",
    [
        ("Bäckerei Müller GmbH", "Baeckerei Mueller GmbH", "BACKEREI MULLER GMBH"),
        ("Jürgen Schäfer", "Juergen Schaefer", "Jurgen Schafer"),
        ("Köhler Logistik AG", "Koehler Logistik AG"),
    ],
)
def test_an_umlaut_written_out_or_dropped_is_one_name(spellings):
    assert len({name_fingerprint(spelling) for spelling in spellings}) == 1


@pytest.mark.parametrize(
    ("one", "other"), [("Bauer Trading", "Baker Trading"), ("Huber GmbH", "Hubert GmbH")]
)
def test_names_that_differ_otherwise_stay_apart(one, other):
    assert name_fingerprint(one) != name_fingerprint(other)


@pytest.mark.parametrize(
    ("country", "abbreviated", "written_out", "expected"),
    [
        ("IT", "V.le Garibaldi 12", "Viale Garibaldi 12", "viale garibaldi 12"),
        ("IT", "P.za del Porto 3", "Piazza del Porto 3", "piazza del porto 3"),
        ("PL", "ul. Portowa 283", "ulica Portowa 283", "ulica portowa 283"),
        ("PL", "al. Morska 4", "aleja Morska 4", "aleja morska 4"),
        ("ES", "Avda. Marítima 7", "Avenida Marítima 7", "avenida maritima 7"),
        ("ES", "C/ del Puerto 9", "Calle del Puerto 9", "calle del puerto 9"),
        ("FR", "14 bd Jean Jaurès", "14 boulevard Jean Jaurès", "14 boulevard jean jaures"),
        ("DE", "Königstr. 5", "Koenigstrasse 5", "konigstrasse 5"),
    ],
)
def test_a_street_type_abbreviated_is_the_street_written_out(country, abbreviated, written_out, expected):
    assert normalize_address(abbreviated, country) == normalize_address(written_out, country) == expected


def test_abbreviations_are_read_in_their_own_country_only():
    # "C" is Calle in Spain only; an Italian "V le" pair means nothing in France.
    assert normalize_address("C/ Mayor 5", "FR") == "c mayor 5"
    assert normalize_address("V.le Roma 3", "FR") == "v le roma 3"
    # Umlauts are folded in addresses where German is written only.
    assert normalize_address("Boerhaavelaan 5", "NL") == "boerhaavelaan 5"
