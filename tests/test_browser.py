"""The pages a newcomer meets first, in real headless Chromium."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_and_admin_login_render_and_sign_in(browser, live_server, django_user_model):
    django_user_model.objects.create_superuser("platform-admin", password="correct horse battery")
    page = browser.new_page()
    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text() == "Interlink"

    page.goto(live_server.url + "/admin/")
    assert "Log in" in page.title()
    page.fill("#id_username", "platform-admin")
    page.fill("#id_password", "wrong password")
    page.click("input[type=submit]")
    assert page.locator(".errornote").is_visible()

    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    page.wait_for_url(live_server.url + "/admin/")
    assert "Site administration" in page.title()
