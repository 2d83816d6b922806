"""The stack a template user runs: `docker compose up`, then the app at 127.0.0.1:4200."""

from __future__ import annotations

import json
import textwrap

import pytest
import requests

from flask_keel.client import Client
from flask_keel.client.cookies import LoopbackSession
from flask_keel.testing import wait_until
from tests.compose.conftest import APP_URL, PROXY_URL, wait_for_http

pytestmark = pytest.mark.compose


def account(url: str, name: str) -> Client:
    client = Client(url)
    client.signup(name, "a long password", f"{name}@example.test")
    return client


def test_health_and_every_dependency_is_ready(stack):
    assert requests.get(APP_URL + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(APP_URL + "/readyz", timeout=10).json()
    assert ready["status"] == "ready"
    assert set(ready["checks"]) == {"database:main", "redis", "memcached"}


def test_home_page_and_security_defaults(stack):
    response = requests.get(APP_URL + "/", timeout=5)
    assert response.status_code == 200 and "is running" in response.text
    cookie = requests.get(APP_URL + "/ws/csrf", timeout=5).headers["Set-Cookie"]
    # ENV is PROD in the stack: the session cookie is Secure.
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_login_flow_with_the_session_in_redis(stack):
    # A browser sends the Secure session cookie to 127.0.0.1 over http; so does this session.
    browser = LoopbackSession()
    token = browser.get(APP_URL + "/ws/csrf", timeout=5).json()["csrf_token"]
    signup = browser.post(APP_URL + "/ws/signup", headers={"X-CSRFToken": token}, timeout=10,
                          json={"username": "composer", "password": "a long password", "email": "c@x.io"})
    assert signup.status_code == 201
    sid = browser.cookies.get("session")
    assert browser.get(APP_URL + "/ws/me", timeout=5).json()["username"] == "composer"
    assert stack.redis("EXISTS", f"{stack.env['APP_NAME']}:session:{sid}").strip() == "1"


def test_writes_land_in_mysql_and_migrations_are_current(stack):
    ada = account(APP_URL, "ada")
    assert "ada" in stack.mysql(f"SELECT username FROM users WHERE id = {ada.user['id']}")
    current = stack.compose("run", "--rm", "--no-deps", "app", "flask", "db", "current")
    assert "(head)" in current.stdout + current.stderr
    ada.close()


def test_socketio_push_from_a_command_in_the_container(stack):
    tess, stu = account(APP_URL, "tess"), account(APP_URL, "stu")
    pushes, bystander = [], []
    tess.on("note", pushes.append)
    stu.on("note", bystander.append)
    stack.exec("app", "flask", "realtime", "notify", "--user", str(tess.user["id"]), "note", '{"text": "hi"}')
    assert wait_until(lambda: pushes, timeout=15)
    assert pushes == [{"text": "hi"}] and bystander == []
    tess.close()
    stu.close()


def test_a_job_enqueued_by_the_app_runs_on_the_worker_and_is_pushed_to_its_user(stack):
    """The school demo's CSV import through the stack: the web app enqueues it in Redis, only the
    `worker` service consumes (with it stopped the job waits), and the progress and result reach
    the enqueuing user's socket across Redis's message queue."""
    # Imports enrol users who already are students (and change nobody's profile).
    for name, full_name in (("pupil1", "Pupil One"), ("pupil2", "Pupil Two")):
        pupil = account(APP_URL, name)
        pupil.post("/ws/students", {"name": full_name, "birth_date": "2010-01-02"})
        pupil.close()
    teacher, bystander = account(APP_URL, "tina"), account(APP_URL, "brad")
    seen, others = [], []
    for event in ("job.progress", "job.done", "job.failed"):
        teacher.on(event, lambda data, event=event: seen.append((event, data)))
        bystander.on(event, lambda data, event=event: others.append((event, data)))
    teacher.post("/ws/teachers", {"name": "Tina", "department": "CS"})
    course_id = teacher.post("/ws/courses", {"course_name": "Algorithms", "course_code": "ALGO1"})["id"]

    # No consumer: the app itself must not run it (JOBS.CONSUMER auto: `worker` on Redis).
    stack.compose("stop", "worker", timeout=120)
    token = teacher.get("/ws/csrf")["csrf_token"]
    upload = teacher.http.post(APP_URL + "/dashboard/courses/import", timeout=10,
                               headers={"Accept": "application/json", "X-CSRFToken": token},
                               data={"course_id": str(course_id)},
                               files={"file": ("students.csv", b"username,name,birth_date\n"
                                               b"pupil1,Pupil One,2010-01-02\npupil2,Pupil Two,2010-03-04\n",
                                               "text/csv")})
    assert upload.status_code == 202, upload.text
    job_id = upload.json()["id"]
    assert not wait_until(lambda: seen, timeout=5), seen
    queued = stack.exec("app", "flask", "jobs", "list")
    assert any(line.split()[:2] == [job_id, "queued"] for line in queued.splitlines()), queued

    stack.compose("start", "worker", timeout=120)
    assert wait_until(lambda: any(event != "job.progress" for event, _ in seen), timeout=60), seen
    done = [data for event, data in seen if event == "job.done"]
    assert len(done) == 1, seen
    assert done[0]["id"] == job_id and done[0]["task"] == "import_students"
    assert done[0]["result"]["message"] == "Import into Algorithms: 2 enrolled, 0 already were."
    assert [data["id"] for event, data in seen if event == "job.progress"] == [job_id, job_id]
    assert others == []  # only the enqueuing user's sockets
    assert stack.mysql(f"SELECT COUNT(*) FROM enrollments WHERE course_id = {course_id}").strip() == "2"
    # The worker's healthcheck (its heartbeat), and the job gone from the queue.
    assert wait_until(lambda: stack.compose("exec", "-T", "worker", "flask", "jobs", "alive",
                                            check=False).returncode == 0, timeout=30)
    assert job_id not in stack.exec("app", "flask", "jobs", "list")
    teacher.close()
    bystander.close()


def test_entrypoint_steps_run_alone_and_refuse_a_weak_key(stack):
    migrate = stack.compose("run", "--rm", "app", "migrate")
    assert "applying database migrations" in migrate.stderr
    weak = stack.compose("run", "--rm", "--no-deps", "-e", "APP_KEY=short", "app", "render", check=False)
    assert weak.returncode != 0
    assert "SERVER_ENV.APP_KEY: is 5 characters long" in weak.stdout + weak.stderr


def test_sigterm_stops_the_app_gracefully(stack):
    stack.compose("stop", "-t", "20", "app")
    exit_code = stack.compose("ps", "-a", "-q", "app").stdout.split()
    logs = stack.compose("logs", "--no-color", "app").stdout
    assert "Handling signal: term" in logs and "Shutting down: Master" in logs
    assert exit_code  # the container still exists, stopped
    stack.compose("up", "-d", "--wait", "app")
    wait_for_http(APP_URL + "/healthz")


# The image installs no HTTP client library (the Python client's are an extra it leaves
# out), so the client inside a replica speaks HTTP through the standard library: sign in,
# then the named request `push.me` as POST /ws/push.me.
IN_CONTAINER_CLIENT = textwrap.dedent("""
    import http.cookiejar, json, sys, urllib.request
    # A browser sends the Secure session cookie to 127.0.0.1 over http; so does this jar.
    jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(secure_protocols=("https", "wss", "http")))
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = "http://127.0.0.1:4200/ws/"

    def call(path, body=None, token=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **({"X-CSRFToken": token} if token else {})}
        with opener.open(urllib.request.Request(base + path, data=data, headers=headers), timeout=10) as answer:
            return json.load(answer)

    token = call("csrf")["csrf_token"]
    signed_in = call("login", {"username": sys.argv[1], "password": "a long password"}, token)
    call("push.me", {"event": "note", "data": {"from": sys.argv[2]}}, signed_in["csrf_token"])
    cookie = next(c.value for c in jar if c.name == "session")
    print(json.dumps({"cookie": cookie, "user": signed_in["user"]["username"]}))
""")


def test_scale_profile_events_and_sessions_cross_replicas(stack):
    replicas = 2
    stack.compose("--profile", "scale", "up", "-d", "--scale", f"app={replicas}", "--wait", timeout=600,
                  env={"APP_PORT": "", "TRUSTED_PROXIES": "1"})
    wait_for_http(PROXY_URL + "/healthz")
    watcher = account(PROXY_URL, "scaler")  # its socket on whichever replica the proxy picks
    pushes = []
    watcher.on("note", pushes.append)

    for index in range(1, replicas + 1):
        # A client inside replica `index`, talking to that replica's own gunicorn, logged in as
        # the same user: its push reaches the watcher's socket wherever that is.
        output = stack.exec("app", "python", "-", "scaler", f"replica{index}", index=index,
                            stdin=IN_CONTAINER_CLIENT)
        result = json.loads(output.strip().splitlines()[-1])
        # Its session, made on that replica, is valid through the proxy (any replica).
        me = requests.get(PROXY_URL + "/ws/me", cookies={"session": result["cookie"]}, timeout=10)
        assert me.status_code == 200 and me.json()["username"] == "scaler"
        assert wait_until(lambda: len(pushes) == index, timeout=15), f"no push from replica {index}"
    assert sorted(push["from"] for push in pushes) == ["replica1", "replica2"]
    hosts = {stack.exec("app", "hostname", index=index).strip() for index in range(1, replicas + 1)}
    assert len(hosts) == replicas  # really different containers
    watcher.close()


def test_no_secret_appears_in_the_logs_of_the_whole_run(stack):
    """Runs last: every service's log, after every flow above, holds none of the secrets."""
    logs = stack.compose("--profile", "scale", "logs", "--no-color").stdout
    assert "entrypoint: starting gunicorn" in logs
    for name in ("APP_KEY", "MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD", "REDIS_PASSWORD"):
        assert stack.env[name] not in logs, f"{name} appears in the logs"
    shown = stack.compose("run", "--rm", "--no-deps", "app", "flask", "config", "show").stdout
    assert stack.env["APP_KEY"] not in shown and stack.env["MYSQL_PASSWORD"] not in shown
    assert "********" in shown


def test_redis_is_bounded_and_evicts_only_keys_that_expire(stack):
    assert stack.redis("CONFIG", "GET", "maxmemory-policy").split() == ["maxmemory-policy", "volatile-lru"]
    assert stack.redis("CONFIG", "GET", "maxmemory").split() == ["maxmemory", str(256 * 1024 * 1024)]


def test_redis_runs_as_its_own_user_and_no_password_is_on_a_command_line(stack):
    status = stack.exec("redis", "cat", "/proc/1/status")
    uid = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1]
    assert uid != "0", status
    assert stack.exec("redis", "cat", "/proc/1/cmdline").replace("\0", " ").startswith("redis-server")
    for service in ("redis", "mysql"):
        command_lines = stack.exec(service, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
        healthcheck = stack.inspect(service, "{{json .Config.Healthcheck}}")
        for secret in ("REDIS_PASSWORD", "MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD"):
            assert stack.env[secret] not in command_lines, (service, secret)
            assert stack.env[secret] not in healthcheck, (service, secret)
    assert stack.redis("PING").strip() == "PONG"  # the password still works


def test_only_the_app_reaches_the_data_services(stack):
    reach = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3); print('reached')"
    for host, port in (("memcached", "11211"), ("redis", "6379"), ("mysql", "3306")):
        assert "reached" in stack.exec("app", "python", "-c", reach, host, port)
    probe = "exec 3<>/dev/tcp/$0/$1 && echo reached || echo refused"
    for host, port in (("memcached", "11211"), ("redis", "6379"), ("mysql", "3306")):
        outside = stack.compose("--profile", "scale", "run", "--rm", "--no-deps", "proxy", "bash", "-c", probe,
                                host, port, check=False, timeout=120)
        assert "reached" not in outside.stdout, (host, outside.stdout, outside.stderr)


def test_the_image_holds_no_rendered_config_and_no_env_file(stack):
    from tests.compose.conftest import DECOY

    listing = stack.exec("app", "ls", "-a", "/app", "/app/config")
    assert f"{DECOY}.rendered.yml" not in listing and ".env\n" not in listing


def test_the_virtualenv_has_no_pip_and_the_app_user_cannot_install(stack):
    assert stack.exec("app", "sh", "-c", "test ! -e /opt/venv/bin/pip && echo none").strip() == "none"
    # The base image's own pip stays (README: Docker), and no folder it installs to, nor the
    # virtualenv, is writable by the app user.
    check = ("import os, site, sysconfig; print([p for p in (sysconfig.get_path('purelib'), site.getuserbase(),"
             " '/opt/venv', '/opt/venv/lib') if os.access(p, os.W_OK)])")
    writable = stack.exec("app", "sh", "-c", 'pip --version >&2 && "$(head -n 1 "$(command -v pip)" | cut -c 3-)"'
                          ' -c "$0"', check)
    assert writable.strip() == "[]"
