"""Mail: sent from a job through real SMTP servers (aiosmtpd in this process) with
STARTTLS or TLS, the certificate verified; written to .eml files when no SMTP host is
set; a slow or unreachable server never slows the request, and a failure is logged
once per job."""

from __future__ import annotations

import email
import email.policy
import re
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import requests

from flask_keel.testing import MailCatcher, free_port, links_in, signed_up, wait_until

pytestmark = pytest.mark.integration

RESET = "Reset your password"


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def ask_reset_api(url: str, address: str) -> tuple[float, requests.Response]:
    api = requests.Session()
    api.headers["X-CSRFToken"] = api.get(url + "/ws/csrf", timeout=10).json()["csrf_token"]
    started = time.perf_counter()
    answer = api.post(url + "/ws/password/forgot", json={"email": address}, timeout=10)
    return time.perf_counter() - started, answer


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (trusted by a server started with SSL_CERT_FILE)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def server_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def test_without_an_smtp_host_mail_is_written_to_eml_files_and_its_links_logged(live_server, tmp_path):
    port = free_port()
    server = live_server(migrate=True, port=port, SERVER_ENV={"PUBLIC_URL": f"http://127.0.0.1:{port}/"})
    signed_up(server.url, "offline")
    outbox = tmp_path / "instance" / "mail"
    _, answer = ask_reset_api(server.url, "offline@x.io")
    assert answer.status_code == 202

    def reset_files():
        for path in sorted(outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["Subject"] == RESET:
                return path, message
        return None

    path, message = wait_until(reset_files, timeout=15)
    assert path.stat().st_mode & 0o077 == 0  # its link is a credential: the app's user alone reads it
    link = next(link for link in links_in(message) if "/password/reset/" in link)
    assert link.startswith(f"http://127.0.0.1:{port}/password/reset/")  # no double slash from PUBLIC_URL's
    assert wait_until(lambda: link in server.log(), timeout=5)  # DEV: the link is in the log
    browser = requests.Session()
    page = browser.get(link, timeout=10)
    done = browser.post(link, allow_redirects=False, timeout=10, data={
        "csrf_token": form_token(page.text), "password": "offline password", "confirm": "offline password"})
    assert done.status_code == 302


@pytest.mark.parametrize("security", ["starttls", "tls"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # it is TLS: see below
def test_mail_goes_over_starttls_or_tls_with_login_and_a_verified_certificate(live_server, certificate, security):
    from aiosmtpd.smtp import AuthResult

    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"mailer", b"s3cret!"))

    options = ({"tls_context": server_context(certificate), "require_starttls": True} if security == "starttls"
               # aiosmtpd does not count its implicit TLS as TLS for AUTH: told so here.
               else {"ssl_context": server_context(certificate), "auth_require_tls": False})
    catcher = MailCatcher(authenticator=authenticator, auth_required=True, **options).start()
    try:
        mail = catcher.settings(SECURITY=security, USERNAME="mailer", PASSWORD="s3cret!")
        server = live_server(migrate=True, env={"SSL_CERT_FILE": str(certificate[0])}, SERVICES={"mail": mail})
        signed_up(server.url, "secure")
        ask_reset_api(server.url, "secure@x.io")
        assert catcher.wait_for("secure@x.io", subject=RESET)
        assert logins and logins[-1] == (b"mailer", b"s3cret!")
    finally:
        catcher.stop()


def test_a_certificate_nobody_vouches_for_is_refused(live_server, certificate):
    catcher = MailCatcher(tls_context=server_context(certificate), require_starttls=True).start()
    try:
        mail = catcher.settings(SECURITY="starttls", ATTEMPTS=1)
        server = live_server(migrate=True, SERVICES={"mail": mail})  # no SSL_CERT_FILE: not trusted
        signed_up(server.url, "wary")
        ask_reset_api(server.url, "wary@x.io")
        assert wait_until(lambda: "not sent" in server.log() and "CERTIFICATE_VERIFY_FAILED" in server.log(),
                          timeout=15)
        assert catcher.to("wary@x.io") == []
    finally:
        catcher.stop()


def test_a_slow_smtp_server_does_not_slow_the_request(live_server):
    catcher = MailCatcher(delay=3).start()
    try:
        server = live_server(migrate=True, SERVICES={"mail": catcher.settings()})
        signed_up(server.url, "patient")
        elapsed, answer = ask_reset_api(server.url, "patient@x.io")
        assert answer.status_code == 202 and elapsed < 0.5, elapsed
        assert catcher.wait_for("patient@x.io", subject=RESET, timeout=20)
    finally:
        catcher.stop()


def test_an_unreachable_smtp_server_fails_the_job_logged_once(live_server):
    mail = {"HOST": "127.0.0.1", "PORT": free_port(), "SECURITY": "none", "ATTEMPTS": 3, "RETRY_DELAY": 0.2,
            "TIMEOUT": 2}
    server = live_server(migrate=True, SERVICES={"mail": mail},
                         FLASK={"CONFIG": {"EMAIL_VERIFICATION": "off"}})
    signed_up(server.url, "unlucky")
    elapsed, answer = ask_reset_api(server.url, "unlucky@x.io")
    assert answer.status_code == 202 and elapsed < 0.5, elapsed
    assert wait_until(lambda: "not sent" in server.log(), timeout=15)
    time.sleep(1)  # any further attempt or log line would come now
    failures = [line for line in server.log().splitlines() if "not sent" in line]
    assert len(failures) == 1 and "attempt 3 of 3" in failures[0], failures
    assert "unlucky@x.io" not in server.log()  # the address is masked: u***@x.io
    assert "Traceback" not in server.log()
