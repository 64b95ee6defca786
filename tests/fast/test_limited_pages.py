"""A page of HTML past the rows a paginator counts is served as asked (the queue's "Next"
must lead beyond the count limit), while a page past the end falls back to the last one
counted and a number that is none to the first."""

from core.pagination import LimitedCountPaginator

ROWS = list(range(1_000))


def pages(limit: int = 100) -> LimitedCountPaginator:
    return LimitedCountPaginator(ROWS, 50, limit)


def test_a_page_past_the_count_limit_is_the_page_asked_for():
    page = pages().get_page(12)
    assert page.number == 12
    assert list(page.object_list) == list(range(550, 600))
    assert page.has_next()


def test_the_last_page_has_no_next():
    page = pages().get_page(20)
    assert list(page.object_list) == list(range(950, 1_000))
    assert not page.has_next()


def test_a_page_past_the_end_falls_back_to_the_last_counted():
    page = pages().get_page(21)
    assert page.number == 3  # 101 rows counted: three pages of 50
    assert list(page.object_list) == list(range(100, 150))


def test_a_page_that_is_no_number_is_the_first():
    assert pages().get_page("x").number == 1


def test_within_the_count_limit_pages_are_django_s():
    page = pages(limit=5_000).get_page(4)
    assert (page.number, list(page.object_list)[:2]) == (4, [150, 151])
    assert pages(limit=5_000).get_page(99).number == 20
