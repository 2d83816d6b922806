"""Password reset, end to end: asked for on a real gunicorn, mailed to a real SMTP server
(aiosmtpd in this process), the link followed out of the received mail. Hostile cases:
a link used twice, expired, tampered with or from before a password change; a spoofed
Host; enumeration by status, body and timing; a flood of requests from one client."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from itsdangerous import URLSafeTimedSerializer

from flask_keel.testing import free_port, links_in, signed_up

pytestmark = pytest.mark.integration

LIVE_KEY = "live-server-key-" * 3  # flask_keel.testing's live servers sign with this APP_KEY
RESET = "Reset your password"
LIMITS_OFF = {"MAIL_RATE_LIMIT": "10000 per minute", "MAIL_ADDRESS_RATE_LIMIT": "10000 per minute"}


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def mailing_server(live_server, mail_catcher, limits=None, **sections):
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    config = {"FLASK": {"CONFIG": limits or {}}, "SERVICES": {"mail": mail_catcher.settings()},
              "SERVER_ENV": {"PUBLIC_URL": public}}
    for name, section in sections.items():
        config.setdefault(name, {}).update(section)
    return live_server(migrate=True, port=port, **config)


def ask_reset(url: str, email: str, **headers) -> requests.Response:
    browser = requests.Session()
    page = browser.get(url + "/password/forgot", timeout=10)
    return browser.post(url + "/password/forgot", data={"csrf_token": form_token(page.text), "email": email},
                        headers=headers, timeout=10)


def reset_link(mail_catcher, address: str, count: int = 1) -> str:
    message = mail_catcher.wait_for(address, count, subject=RESET)[count - 1]
    return next(link for link in links_in(message) if "/password/reset/" in link)


def set_password(link: str, password: str) -> requests.Response:
    browser = requests.Session()
    page = browser.get(link, timeout=10)
    if page.status_code != 200:
        return page
    return browser.post(link, allow_redirects=False, timeout=10, data={
        "csrf_token": form_token(page.text), "password": password, "confirm": password})


def logs_in(url: str, username: str, password: str) -> bool:
    browser = requests.Session()
    token = browser.get(url + "/ws/csrf", timeout=10).json()["csrf_token"]
    answer = browser.post(url + "/ws/login", json={"username": username, "password": password},
                          headers={"X-CSRFToken": token}, timeout=10)
    return answer.status_code == 200


def test_a_forgotten_password_is_reset_from_the_mailed_link(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher)
    signed_in = signed_up(server.url, "forgetful")
    assert signed_in.get(server.url + "/ws/me", timeout=10).status_code == 200

    asked = ask_reset(server.url, "Forgetful@X.io")  # any case: addresses are one whatever their case
    assert asked.status_code == 200 and "a link to reset its password is on its way" in asked.text
    link = reset_link(mail_catcher, "forgetful@x.io")
    assert link.startswith(server.url + "/password/reset/")

    done = set_password(link, "a brand new password")
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert logs_in(server.url, "forgetful", "a brand new password")
    assert not logs_in(server.url, "forgetful", "a long password")
    # Every session of the account ended with the reset.
    assert signed_in.get(server.url + "/ws/me", timeout=10).status_code == 401

    again = set_password(link, "yet another password")  # the link works once
    assert again.status_code == 400 and "has been used already" in again.text
    assert logs_in(server.url, "forgetful", "a brand new password")


def test_the_json_endpoint_and_the_named_request_reset_too(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher)
    signed_up(server.url, "jason")
    api = requests.Session()
    api.headers["X-CSRFToken"] = api.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    asked = api.post(server.url + "/ws/password/forgot", json={"email": "jason@x.io"}, timeout=10)
    assert asked.status_code == 202
    token = reset_link(mail_catcher, "jason@x.io").rsplit("/", 1)[1]
    done = api.post(server.url + "/ws/password/reset", json={"token": token, "password": "json password!"},
                    timeout=10)
    assert done.status_code == 200 and done.json() == {"reset": True, "username": "jason"}

    named = api.post(server.url + "/ws/password.forgot", json={"email": "jason@x.io"}, timeout=10)
    assert named.status_code == 200 and "on its way" in named.json()["message"]
    token = reset_link(mail_catcher, "jason@x.io", 2).rsplit("/", 1)[1]
    done = api.post(server.url + "/ws/password.reset", json={"token": token, "password": "named password!"},
                    timeout=10)
    assert done.status_code == 200 and done.json()["username"] == "jason"
    assert logs_in(server.url, "jason", "named password!")
    short = api.post(server.url + "/ws/password/reset", json={"token": token, "password": "short"}, timeout=10)
    assert short.status_code == 400 and short.json()["field"] == "password"


def test_tampered_expired_and_outdated_links_are_refused(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher)
    signed_up(server.url, "target")
    ask_reset(server.url, "target@x.io")
    ask_reset(server.url, "target@x.io")
    first, second = reset_link(mail_catcher, "target@x.io", 1), reset_link(mail_catcher, "target@x.io", 2)
    token = first.rsplit("/", 1)[1]

    payload, signature = token.rsplit(".", 1)
    tampered = f"{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    refused = set_password(f"{server.url}/password/reset/{tampered}", "attacker password")
    assert refused.status_code == 400 and "not valid" in refused.text
    api = requests.Session()
    api.headers["X-CSRFToken"] = api.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    other_user = URLSafeTimedSerializer(LIVE_KEY, salt="accounts.verify").dumps({"u": 1, "e": "x"})
    for bad in (tampered, "", "x" * 2000, other_user, "a.b.c"):
        answer = api.post(server.url + "/ws/password/reset", json={"token": bad, "password": "attacker password"},
                          timeout=10)
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["error"] in {"invalid_link", "invalid_payload", "validation_failed"} or \
            answer.json().get("field") == "token", answer.json()

    # A genuine token, signed an hour and a second ago: expired.
    serializer = URLSafeTimedSerializer(LIVE_KEY, salt="accounts.reset")
    data = serializer.loads(token)
    signer = serializer.make_signer("accounts.reset")
    signer.get_timestamp = lambda: int(time.time()) - 3601
    expired = signer.sign(serializer.dump_payload(data)).decode()
    answer = api.post(server.url + "/ws/password/reset", json={"token": expired, "password": "attacker password"},
                      timeout=10)
    assert answer.status_code == 400 and answer.json()["error"] == "expired_link"

    # The second link changes the password: the first, from before, dies with it.
    assert set_password(second, "changed by the owner").status_code == 302
    outdated = set_password(first, "attacker password")
    assert outdated.status_code == 400 and "has been used already, or the account changed" in outdated.text
    assert logs_in(server.url, "target", "changed by the owner")


def test_links_use_the_public_url_whatever_host_the_request_names(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher)
    signed_up(server.url, "hosted")
    browser = requests.Session()
    page = browser.get(server.url + "/password/forgot", timeout=10)
    # The cookie by hand: a cookie jar would not send 127.0.0.1's cookie to a request for evil.example.
    cookies = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    asked = requests.post(server.url + "/password/forgot", timeout=10,
                          data={"csrf_token": form_token(page.text), "email": "hosted@x.io"},
                          headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example", "Cookie": cookies})
    assert asked.status_code == 200 and "on its way" in asked.text
    link = reset_link(mail_catcher, "hosted@x.io")
    assert link.startswith(server.url + "/password/reset/")
    assert "evil" not in mail_catcher.to("hosted@x.io", RESET)[0].as_string()


@pytest.mark.timing
def test_the_answer_does_not_tell_whether_an_account_has_the_address(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher, limits=LIMITS_OFF)
    signed_up(server.url, "known")
    api = requests.Session()
    api.headers["X-CSRFToken"] = api.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]

    def ask(email: str) -> tuple[float, int, dict]:
        started = time.perf_counter()
        answer = api.post(server.url + "/ws/password/forgot", json={"email": email}, timeout=10)
        return time.perf_counter() - started, answer.status_code, answer.json()

    ask("warm@x.io")
    known, unknown = [], []
    for round_ in range(20):  # interleaved, so that load on the machine hits both alike
        known.append(ask("known@x.io"))
        unknown.append(ask(f"nobody{round_}@x.io"))
    assert {(status, body["message"]) for _, status, body in known} == \
        {(status, body["message"]) for _, status, body in unknown}
    known_median = statistics.median(elapsed for elapsed, _, _ in known)
    unknown_median = statistics.median(elapsed for elapsed, _, _ in unknown)
    print(f"median answer: known address {known_median * 1000:.1f} ms, unknown {unknown_median * 1000:.1f} ms")
    assert abs(known_median - unknown_median) < 0.050
    mail_catcher.wait_for("known@x.io", 20, subject=RESET)
    assert all("nobody" not in str(message["To"]) for message in mail_catcher.messages)


def test_a_thousand_requests_from_one_client_hit_the_limit_and_queue_nothing_more(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher)
    signed_up(server.url, "flooded")
    api = requests.Session()
    api.headers["X-CSRFToken"] = api.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    statuses = [api.post(server.url + "/ws/password/forgot", timeout=10,
                         json={"email": "flooded@x.io" if index % 2 else f"n{index}@x.io"}).status_code
                for index in range(1000)]
    assert statuses.count(202) == 5 and statuses.count(429) == 995  # MAIL_RATE_LIMIT: 5 per minute
    time.sleep(2)
    assert len(mail_catcher.to("flooded@x.io", RESET)) <= 3
    jobs = subprocess.run([sys.executable, "-m", "app", "jobs", "list"], capture_output=True, text=True, timeout=60,
                          env={**_env(), "APP_CONFIG": str(server.config)}, cwd=_root())
    assert jobs.returncode == 0, jobs.stderr
    assert "queued" not in jobs.stdout, jobs.stdout  # every accepted request's job has run; none waits
    assert server.log().count("Executing Controllers.accounts.mails.send_reset_link") == 5  # one per 202


def test_one_address_is_limited_whoever_asks(live_server, mail_catcher):
    server = mailing_server(live_server, mail_catcher, limits={"MAIL_RATE_LIMIT": "1000 per minute"})
    statuses = [ask_reset(server.url, "victim@x.io").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]  # MAIL_ADDRESS_RATE_LIMIT: 3 per 15 minutes
    other = ask_reset(server.url, "someone.else@x.io")
    assert other.status_code == 200


def _env() -> dict:
    return dict(os.environ)


def _root() -> str:
    return str(Path(__file__).resolve().parents[2])
