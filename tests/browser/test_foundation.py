"""A visitor sees a real home page, a demo member logs in and out, the phone menu works."""

import pytest
from playwright.sync_api import expect

from demo.seeding import ensure_demo_members
from demo.specs import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_login_logout(live_server, page, screenshot):
    ensure_demo_members()
    page.goto(live_server.url + "/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Small pledges")
    screenshot(page, "home")

    page.get_by_role("link", name="Log in").click()
    page.wait_for_url("**/accounts/login/")
    screenshot(page, "login")
    page.get_by_label("Email").fill("organizer@groundswell.local")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".form-errors")).to_be_visible()
    screenshot(page, "login-error")

    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + "/")
    page.locator(".account-menu summary").click()
    expect(page.get_by_role("link", name="Public profile")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    if page.url.endswith("/accounts/logout/"):  # allauth confirms GET logouts; ours is POST
        page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


def test_signup_page_and_phone_menu(live_server, phone_page, screenshot):
    phone_page.goto(live_server.url + "/accounts/signup/")
    phone_page.get_by_role("button", name="Sign up").click()
    expect(phone_page.locator(".errorlist").first).to_be_visible()
    screenshot(phone_page, "signup-errors-phone")
    nav_discover = phone_page.locator(".site-nav").get_by_role("link", name="Discover", exact=True)
    expect(nav_discover).not_to_be_visible()
    phone_page.locator(".nav-toggle").click()
    expect(nav_discover).to_be_visible()
    screenshot(phone_page, "menu-phone")
