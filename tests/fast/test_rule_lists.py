"""The rule's lists of admitted keys (`among`) travel as one array on PostgreSQL and as a
placeholder per value elsewhere, the other parameters kept in their places."""

from sharing.rule_sql import Listed, among, with_lists

SQL = "a = %s AND k IN (%s) AND b <= %s AND c IN (%s)"
PARAMS = [7, Listed(("x", "y", "z")), 3, Listed((10,))]


def test_on_postgresql_each_list_is_one_array_parameter():
    assert with_lists(SQL, PARAMS, "postgresql") == (
        "a = %s AND k = ANY(%s::text[]) AND b <= %s AND c = ANY(%s::bigint[])",
        [7, '{"x","y","z"}', 3, "{10}"],
    )


def test_on_postgresql_list_text_escapes_quotes_and_backslashes():
    sql, params = with_lists("k IN (%s)", [Listed(('a"b', "c\\d", "e,f"))], "postgresql")
    assert (sql, params) == ("k = ANY(%s::text[])", ['{"a\\"b","c\\\\d","e,f"}'])


def test_elsewhere_each_value_has_its_placeholder():
    assert with_lists(SQL, PARAMS, "sqlite") == (
        "a = %s AND k IN (%s, %s, %s) AND b <= %s AND c IN (%s)",
        [7, "x", "y", "z", 3, 10],
    )


def test_a_statement_without_lists_is_left_as_it_is():
    assert with_lists("a = %s OR b = %s", [1, 2], "postgresql") == ("a = %s OR b = %s", [1, 2])


def test_among_sorts_its_values_and_an_empty_list_admits_nothing():
    text = among("{owner_id}", {3, 1, 2})
    assert (text.sql, text.params) == ("{owner_id} IN (%s)", (Listed((1, 2, 3)),))
    assert among("{owner_id}", []).sql == "(1 = 0)"
