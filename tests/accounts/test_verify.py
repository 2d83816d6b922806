"""Email verification (off, optional, required) and changing one's address, through a
real gunicorn, with the links followed out of mail received by a real SMTP server."""

from __future__ import annotations

import re

import pytest
import requests

from flask_keel.testing import free_port, links_in, signed_up

pytestmark = pytest.mark.integration

CONFIRM = "Confirm your email address"


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def api_session(url: str) -> requests.Session:
    api = requests.Session()
    api.headers["X-CSRFToken"] = api.get(url + "/ws/csrf", timeout=10).json()["csrf_token"]
    return api


def link_in(mail_catcher, address: str, subject: str, part: str, count: int = 1) -> str:
    message = mail_catcher.wait_for(address, count, subject=subject)[count - 1]
    return next(link for link in links_in(message) if part in link)


def mailing_server(live_server, mail_catcher, mode: str, **config):
    port = free_port()
    return live_server(migrate=True, port=port, SERVICES={"mail": mail_catcher.settings()},
                       SERVER_ENV={"PUBLIC_URL": f"http://127.0.0.1:{port}"},
                       FLASK={"CONFIG": {"EMAIL_VERIFICATION": mode, **config}})


def test_optional_verification_reminds_until_the_link_is_followed(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher, "optional")
    browser = signed_up(server.url, "newbie")
    assert browser.get(server.url + "/ws/me", timeout=10).json()["email_verified"] is False
    assert 'id="verify-reminder"' in browser.get(server.url + "/dashboard", timeout=10).text

    link = link_in(mail_catcher, "newbie@x.io", CONFIRM, "/verify/")
    followed = browser.get(link, timeout=10)
    assert followed.status_code == 200 and "newbie@x.io is confirmed" in followed.text
    assert 'id="verify-reminder"' not in browser.get(server.url + "/dashboard", timeout=10).text
    assert browser.get(server.url + "/ws/me", timeout=10).json()["email_verified"] is True

    tampered = requests.get(link[:-3] + "xyz", timeout=10)
    assert tampered.status_code == 400 and "not valid" in tampered.text


def test_required_verification_keeps_the_user_out_until_confirmed(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher, "required")
    api = api_session(server.url)
    signup = api.post(server.url + "/ws/signup", timeout=10,
                      json={"username": "strict", "password": "a long password", "email": "strict@x.io"})
    assert signup.status_code == 201 and signup.json()["verification_required"] is True
    assert api.get(server.url + "/ws/me", timeout=10).status_code == 401  # not signed in

    login = {"username": "strict", "password": "a long password"}
    refused = api_session(server.url).post(server.url + "/ws/login", json=login, timeout=10)
    assert refused.status_code == 403 and refused.json()["error"] == "email_not_verified"
    page = requests.Session()
    form = page.get(server.url + "/login", timeout=10)
    refused_page = page.post(server.url + "/login", timeout=10, data={"csrf_token": form_token(form.text), **login})
    assert refused_page.status_code == 400 and "Confirm your email address first" in refused_page.text

    # The first mail is lost: ask again (an unknown address gets the same answer).
    again = api_session(server.url)
    resent = again.post(server.url + "/ws/email/verify/resend", json={"email": "strict@x.io"}, timeout=10)
    unknown = again.post(server.url + "/ws/email/verify/resend", json={"email": "ghost@x.io"}, timeout=10)
    assert resent.status_code == unknown.status_code == 202 and resent.json() == unknown.json()
    token = link_in(mail_catcher, "strict@x.io", CONFIRM, "/verify/", count=2).rsplit("/", 1)[1]
    verified = again.post(server.url + "/ws/email/verify", json={"token": token}, timeout=10)
    assert verified.status_code == 200 and verified.json() == {"verified": True, "email": "strict@x.io"}
    assert api_session(server.url).post(server.url + "/ws/login", json=login, timeout=10).status_code == 200


def test_resending_is_rate_limited(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher, "required", MAIL_ADDRESS_RATE_LIMIT="2 per minute")
    api = api_session(server.url)
    statuses = [api.post(server.url + "/ws/email/verify/resend", json={"email": "same@x.io"}, timeout=10).status_code
                for _ in range(4)]
    assert statuses == [202, 202, 429, 429]


def test_off_sends_nothing_and_reminds_nobody(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher, "off")
    browser = signed_up(server.url, "quiet")
    assert 'id="verify-reminder"' not in browser.get(server.url + "/dashboard", timeout=10).text
    api_session(server.url).post(server.url + "/ws/password/forgot", json={"email": "quiet@x.io"}, timeout=10)
    mail_catcher.wait_for("quiet@x.io", subject="Reset your password")
    assert mail_catcher.to("quiet@x.io", CONFIRM) == []


def test_a_duplicate_address_is_refused_at_signup(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher, "off")
    signed_up(server.url, "first")
    taken = api_session(server.url).post(server.url + "/ws/signup", timeout=10, json={
        "username": "second", "password": "a long password", "email": "FIRST@x.io"})
    assert taken.status_code == 409 and taken.json()["field"] == "email"


def test_changing_the_address_is_confirmed_from_the_new_one_and_ends_other_sessions(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher, "optional")
    here = signed_up(server.url, "mover")
    elsewhere = api_session(server.url)
    assert elsewhere.post(server.url + "/ws/login", timeout=10,
                          json={"username": "mover", "password": "a long password"}).status_code == 200
    elsewhere.headers["X-CSRFToken"] = elsewhere.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]

    wrong = here.post(server.url + "/ws/account/email", json={"email": "new@x.io", "password": "wrong!"}, timeout=10)
    assert wrong.status_code == 400 and wrong.json()["field"] == "password"
    page = here.get(server.url + "/account/email", timeout=10)
    asked = here.post(server.url + "/account/email", timeout=10, data={
        "csrf_token": form_token(page.text), "email": "New@X.io", "password": "a long password"})
    assert asked.status_code == 200 and "on its way" in asked.text
    notice = mail_catcher.wait_for("mover@x.io", subject="Your email address is being changed")[0]
    assert "new@x.io" in notice.get_body().get_content()
    link = link_in(mail_catcher, "new@x.io", "Confirm your new email address", "/account/email/confirm/")
    assert here.get(server.url + "/ws/me", timeout=10).json()["email"] == "mover@x.io"  # not before it is confirmed

    shown = here.get(link, timeout=10)  # GET shows the button and changes nothing (mail scanners fetch links)
    assert shown.status_code == 200 and "new@x.io" in shown.text
    assert here.get(server.url + "/ws/me", timeout=10).json()["email"] == "mover@x.io"
    confirmed = here.post(link, data={"csrf_token": form_token(shown.text)}, timeout=10)
    assert confirmed.status_code == 200 and "Your address is now new@x.io" in confirmed.text
    me = here.get(server.url + "/ws/me", timeout=10).json()
    assert me["email"] == "new@x.io" and me["email_verified"] is True
    assert elsewhere.get(server.url + "/ws/me", timeout=10).status_code == 401  # the other session ended

    reused = here.post(link, data={"csrf_token": form_token(shown.text)}, timeout=10)
    assert reused.status_code == 400 and "has been used already" in reused.text


def test_an_address_another_account_uses_is_not_taken_over(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher, "off")
    signed_up(server.url, "owner")
    thief = signed_up(server.url, "thief")
    asked = thief.post(server.url + "/ws/account/email", json={"email": "owner@x.io", "password": "a long password"},
                       timeout=10)
    assert asked.status_code == 202  # the same answer as for a free address
    told = mail_catcher.wait_for("owner@x.io", subject="An account already uses this address")
    assert told and all("/account/email/confirm/" not in link for link in links_in(told[0]))
    named = thief.post(server.url + "/ws/email.change", json={"email": "free@x.io", "password": "a long password"},
                       timeout=10)
    assert named.status_code == 200 and "on its way" in named.json()["message"]


def test_a_mistyped_setting_stops_the_app_instead_of_turning_verification_off(tmp_path, shipped_project):
    from flask_keel import create_app
    from flask_keel.testing import project_config

    with pytest.raises(RuntimeError, match="EMAIL_VERIFICATION is 'requried'"):
        create_app(project_config(tmp_path, "sqlite", FLASK={"CONFIG": {"EMAIL_VERIFICATION": "requried"}}))
