"""Legal forms folded to one spelling across languages, accents and transliterations (rigour's
table, then the fingerprints library), and what a company's and a person's resolution
states for the fold on ingest. Every expectation is written out by hand."""

import pytest

from intel.candidates import name_scores
from intel.resolution import (
    TIER_ADDRESS,
    TIER_NAME,
    TIER_NUMBER,
    ResolutionError,
    at_address,
    name_fingerprint,
    name_without_legal_forms,
    resolve_address,
    resolve_company,
    resolve_person,
)

SPELLINGS = {
    # German: the umlaut, its ASCII transliteration, abbreviations with and without dots.
    "acme gmbh": [
        "Acme Gesellschaft mit beschränkter Haftung",
        "ACME Gesellschaft mit beschraenkter Haftung",
        "Acme GmbH",
        "ACME G.m.b.H.",
    ],
    # Dutch.
    "acme bv": ["Acme besloten vennootschap", "Acme B.V.", "ACME BV"],
    # French, with and without its accents.
    "acme sarl": [
        "Acme société à responsabilité limitée",
        "Acme societe a responsabilite limitee",
        "Acme S.A.R.L.",
        "ACME SARL",
    ],
    # Spanish.
    "acme sa": ["Acme Sociedad Anónima", "Acme Sociedad Anonima", "Acme S.A."],
    "acme srl": [
        "Acme Sociedad de Responsabilidad Limitada",
        # Italian, with and without its accents.
        "Acme società a responsabilità limitata",
        "Acme societa a responsabilita limitata",
        "Acme S.r.l.",
    ],
    # Polish, with and without its diacritics.
    "acme spzoo": [
        "Acme spółka z ograniczoną odpowiedzialnością",
        "Acme spolka z ograniczona odpowiedzialnoscia",
        "Acme sp. z o.o.",
        "Acme Sp z oo",
    ],
    # English.
    "acme ltd": ["Acme Limited", "ACME Ltd.", "Acme Ltd"],
    "acme co ltd trading": ["The Acme Trading Company Limited", "Acme Trading Co., Ltd."],
    # Russian, in Cyrillic: the form spelled out and abbreviated, the name transliterated.
    "akme ooo": ["ООО Акме", "Общество с ограниченной ответственностью Акме"],  # noqa: RUF001
}


@pytest.mark.parametrize(
    ("expected", "name"), [(expected, name) for expected, names in SPELLINGS.items() for name in names]
)
def test_every_spelling_of_a_legal_form_folds_to_one(expected, name):
    assert name_fingerprint(name) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Acme GmbH", "Acme AG"),
        ("Acme B.V.", "Acme N.V."),
        ("Acme S.A.", "Acme S.r.l."),
        ("Acme Ltd", "Acme LLC"),
    ],
)
def test_different_legal_forms_stay_different(a, b):
    assert name_fingerprint(a) != name_fingerprint(b)


def test_spellings_of_one_company_share_a_key_and_an_identity():
    umlaut = resolve_company("Nordwind Handel Gesellschaft mit beschränkter Haftung", "DE")
    ascii_ = resolve_company("NORDWIND HANDEL Gesellschaft mit beschraenkter Haftung", "de")
    short = resolve_company("Nordwind Handel GmbH", "DEU")
    assert umlaut.key == ascii_.key == short.key == "DE:name:gmbh handel nordwind"
    assert umlaut.identities == ((("company:DE:gmbh handel nordwind", TIER_NAME)),)
    registered = resolve_company("Nordwind Handel GmbH", "DE", "HRB 1001")
    assert registered.key == "DE:reg:HRB1001"
    assert registered.identities == (("company:DE:gmbh handel nordwind", TIER_NUMBER),)


def test_a_company_without_a_number_is_keyed_with_its_address():
    address = resolve_address("Havenstraat 1, Rotterdam", "NL", "3011 AA")
    named = at_address(resolve_company("Zuidhaven Trading B.V.", "NL"), address)
    assert named.key.startswith("NL:name:bv trading zuidhaven@")
    digest = named.key.rsplit("@", 1)[1]
    assert len(digest) == 16
    assert named.identities == (
        ("company:NL:bv trading zuidhaven", TIER_ADDRESS),
        (f"company:NL:bv trading zuidhaven@{digest}", TIER_ADDRESS),
    )
    elsewhere = at_address(resolve_company("Zuidhaven Trading BV", "NL"), resolve_address("Kerkweg 99", "NL"))
    assert elsewhere.key != named.key
    # A number is the company's identity, wherever it is registered; the address adds the
    # name at that address, which tells apart registered companies of one name.
    registered = resolve_company("Zuidhaven Trading B.V.", "NL", "KvK 24412345")
    located = at_address(registered, address)
    assert located.key == registered.key == "NL:reg:KVK24412345"
    assert located.identities == (
        ("company:NL:bv trading zuidhaven", TIER_NUMBER),
        (f"company:NL:bv trading zuidhaven@{digest}", TIER_NUMBER),
    )


def test_a_person_by_documents_name_and_date_of_birth():
    person = resolve_person("Jan de Vries", "NL", "1980-02-01", documents=["XK 999 9999", "nx1234567"])
    assert person.key == "NL:doc:NX1234567"
    assert person.properties["documents"] == ["NX1234567", "XK9999999"]
    assert person.identities == (("person:NL:jan vries:1980-02-01", TIER_NUMBER),)
    dated = resolve_person("De Vries, Jan", "NL", "1980-02-01")
    assert dated.key == "NL:jan vries:1980-02-01"
    assert dated.identities == (("person:NL:jan vries:1980-02-01", TIER_NAME),)
    # A name alone identifies no one: such a person is only ever a candidate.
    assert resolve_person("Jan de Vries", "NL").identities == ()
    with pytest.raises(ResolutionError) as refused:
        resolve_person("Jan de Vries", "NL", documents=["--"], field="subject_documents")
    assert refused.value.field == "subject_documents"


# --- what the candidate search compares where the tables miss a spelling -----------------


@pytest.mark.parametrize(
    ("country", "spellings", "block"),
    [
        # "pvt", "private", "sociedad" and "sl" are left of forms the tables do not fold
        # into one another; sorted first, they put each spelling in a block of its own.
        ("IN", ["Veluwe Vista Supply Pvt. Ltd.", "VELUWE VISTA SUPPLY PRIVATE LIMITED"], "IN:supply"),
        (
            "ES",
            [
                "Zaan Summit Wholesale S.L.",
                "Zaan Summit Wholesale Sociedad Limitada",
                "zaan summit wholesale sociedad de responsabilidad limitada",
            ],
            "ES:summit",
        ),
        ("NL", ["Krimpen Sierra Toys B.V.", "Krimpen Sierra Toys besloten vennootschap"], "NL:krimpen"),
        ("DE", ["Acme Handel GmbH", "ACME HANDEL Gesellschaft mit beschraenkter Haftung"], "DE:acme"),
        # A number is not the block's word (it sorts first): the first word is, and the
        # number goes with it, so numbered names of one word stay in blocks of their own.
        ("NL", ["Importer 17 BV", "Importer 17 B.V."], "NL:importer:17"),
        ("NL", ["Summit Textiles Zaan 2 BV", "SUMMIT TEXTILES ZAAN 2 B.V."], "NL:summit:2"),
        ("DE", ["3 Linden Logistik 12 GmbH", "3 Linden Logistik 12 G.m.b.H."], "DE:linden:12"),
        # Nothing but a number and legal forms: the number, as the first significant word.
        ("NL", ["2000 B.V.", "2000 BV"], "NL:2000"),
        # Nothing but short words: the first word that is not a legal form.
        ("GB", ["ABC Ltd", "ABC Limited"], "GB:abc"),
    ],
)
def test_every_spelling_of_a_companys_legal_form_leaves_it_in_one_block(country, spellings, block):
    assert {resolve_company(spelling, country).block for spelling in spellings} == {block}


@pytest.mark.parametrize(
    ("country", "names"),
    [
        # One number, different words: a block per word, where the number was the block of all.
        ("NL", ["Summit Textiles Zaan 2 BV", "Motors Northstar Salland 2 BV", "Atlas Toys 2 B.V."]),
        # One word, different numbers: two companies, never compared.
        ("NL", ["Zaan Motors 2 BV", "Zaan Motors 3 BV", "Zaan Motors BV"]),
        ("IN", ["Veluwe Supply 7 Pvt Ltd", "Veluwe Supply 8 Pvt Ltd"]),
    ],
)
def test_numbered_names_of_other_words_or_numbers_are_in_other_blocks(country, names):
    blocks = [resolve_company(name, country).block for name in names]
    assert len(set(blocks)) == len(names), blocks


@pytest.mark.parametrize(
    ("fingerprint", "bare"),
    [
        ("ltd sociedad summit wholesale zaan", "summit wholesale zaan"),
        ("ltd private supply veluwe vista", "supply veluwe vista"),
        ("ltd pvt supply veluwe vista", "pvt supply veluwe vista"),  # "pvt" is in no table
        ("bv krimpen sierra toys", "krimpen sierra toys"),
        ("gmbh", ""),
    ],
)
def test_a_name_without_its_legal_forms(fingerprint, bare):
    assert name_without_legal_forms(fingerprint) == bare


def test_names_are_scored_as_written_and_without_legal_forms():
    # 2 * 21 / (24 + 21): "summit wholesale zaan" within "sl summit wholesale zaan".
    assert name_scores("sl summit wholesale zaan", "ltd sociedad summit wholesale zaan")[1] == pytest.approx(
        93.33, abs=0.01
    )
    assert name_scores("sl summit wholesale zaan", "ltd sociedad summit wholesale zaan")[0] < 85
    # Identical as written: both 100.
    assert name_scores("bv krimpen sierra toys", "bv krimpen sierra toys") == (100.0, 100.0)
    # Nothing but a legal form on one side: nothing to compare without it.
    assert name_scores("gmbh", "acme gmbh")[1] == 0.0
    # Different names of one legal form stay far apart both ways.
    assert max(name_scores("bv hollandia supply", "bv motors texel")) < 60
