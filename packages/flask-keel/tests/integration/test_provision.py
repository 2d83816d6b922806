"""scripts/provision, the recipe `make test` and CI share: it uses services that answer,
starts private ones where nothing answers, and where it cannot install what is missing
it stops with one line that names it."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymysql
import pytest
import redis
from pymemcache.client.base import Client as Memcached

from flask_keel.testing import free_port
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

PROVISION = REPO_ROOT / "scripts" / "provision"
# What the script itself runs, so a PATH of these alone has none of the services' binaries.
TOOLS = ("bash", "id", "sort", "grep", "head", "mktemp", "sleep", "rm", "mkdir", "setsid", "env")


def run(env: dict[str, str], script: Path = PROVISION, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=300, **kwargs)


def stripped_path(tmp_path: Path) -> Path:
    """A PATH folder with the script's own tools and Python only: no services, no sudo."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "python3").symlink_to(sys.executable)
    return bin_dir


def not_root() -> dict:
    """subprocess arguments that run as nobody when the tests run as root (nothing can be installed)."""
    if os.geteuid() != 0:
        return {}
    return {"user": 65534, "group": 65534, "extra_groups": []}


@pytest.fixture
def open_dir():
    """A folder nobody can use too (pytest's tmp_path is its owner's only)."""
    folder = Path(tempfile.mkdtemp(prefix="provision-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_missing_binaries_without_root_stop_with_one_line_naming_them(open_dir):
    env = {"PATH": str(stripped_path(open_dir)), "HOME": str(open_dir), "PROVISION_DIR": str(open_dir / "state")}
    # A copy nobody can run: the checkout may sit under a folder only its owner enters
    # (pytest's tmp_path, when the suite runs in a scratch copy of the project).
    script = Path(shutil.copy(PROVISION, open_dir / "provision"))
    result = run(env, script, **not_root())
    assert result.returncode == 1, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("provision: error: the tests need ")
    for package in ("mariadb-client-core", "mariadb-server-core", "memcached", "redis-server", "wrk"):
        assert package in lines[0]
    assert "sudo apt-get install" in lines[0]
    assert not (open_dir / "state").exists()  # it stopped before starting anything


def test_services_that_answer_are_used_as_they_are():
    env = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
    result = run(env)
    assert result.returncode == 0, result.stderr
    assert "starting" not in result.stderr and "installing" not in result.stderr, result.stderr
    assert "TEST_" not in result.stdout
    assert "provision: ready" in result.stderr


def stop_private_services(state: Path) -> None:
    """Stop what the script started under `state`, and remove MariaDB's own data folder."""
    for pid_file in state.glob("*/pid"):
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass
    for datadir in state.glob("mariadb-*/datadir"):
        folder = Path(datadir.read_text().strip())
        for _ in range(50):  # until mariadbd has let go of its files
            if not (folder / "mariadbd.pid").exists():
                break
            time.sleep(0.2)
        if not folder.is_relative_to(state):  # root's: a folder of its own, beside the state
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def private_services(tmp_path):
    state = tmp_path / "state"
    yield state
    stop_private_services(state)


def test_services_that_do_not_answer_start_as_private_instances(private_services):
    ports = {"TEST_MYSQL_PORT": free_port(), "TEST_REDIS_PORT": free_port(), "TEST_MEMCACHED_PORT": free_port()}
    env = {**os.environ, **{name: str(port) for name, port in ports.items()}, "PROVISION_DIR": str(private_services)}
    result = run(env)
    assert result.returncode == 0, result.stderr
    for kind in ("mariadb", "redis", "memcached"):
        assert f"starting a private {kind}" in result.stderr

    # As the tests use them: root without a password in `test`, Redis, memcached.
    connection = pymysql.connect(host="127.0.0.1", port=ports["TEST_MYSQL_PORT"], user="root", database="test")
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert redis.Redis(port=ports["TEST_REDIS_PORT"]).ping()
    cache = Memcached(("127.0.0.1", ports["TEST_MEMCACHED_PORT"]))
    cache.set("provisioned", b"yes")
    assert cache.get("provisioned") == b"yes"

    # A second run finds them answering and starts nothing.
    again = run(env)
    assert again.returncode == 0 and "starting" not in again.stderr, again.stderr

    # Each one's pid is recorded, so the suite stops what it started: before, `memcached -d`
    # (dropped to nobody) could not write its pid file, and every run left a daemon behind.
    pids = {kind: int(next(private_services.glob(f"{kind}-*/pid")).read_text())
            for kind in ("mariadb", "redis", "memcached")}
    stop_private_services(private_services)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(map(alive, pids.values())):
        time.sleep(0.2)
    assert [kind for kind, pid in pids.items() if alive(pid)] == []


def held_port_with_a_free_one_10000_above() -> tuple[socket.socket, int]:
    """A listening socket on a port below the kernel's ephemeral range, whose +10000 is free."""
    for port in random.sample(range(15000, 22000), 200):
        holder = socket.socket()
        try:
            holder.bind(("127.0.0.1", port))
            with socket.socket() as above:
                above.bind(("127.0.0.1", port + 10000))
        except OSError:
            holder.close()
            continue
        holder.listen()
        return holder, port
    raise AssertionError("no free pair of ports between 15000 and 32000")


def test_a_port_held_by_something_else_moves_the_service_and_says_so(private_services):
    holder, taken = held_port_with_a_free_one_10000_above()
    env = {**os.environ, "TEST_REDIS_PORT": str(taken), "PROVISION_DIR": str(private_services)}
    with holder:
        result = run(env)
    assert result.returncode == 0, result.stderr
    assert f"export TEST_REDIS_PORT={taken + 10000}" in result.stdout.splitlines()
    assert "not as the tests need a redis" in result.stderr
    assert redis.Redis(port=taken + 10000).ping()


def test_make_test_stops_before_any_test_when_provision_fails(open_dir):
    bin_dir = stripped_path(open_dir)
    (bin_dir / "make").symlink_to(shutil.which("make"))
    env = {"PATH": str(bin_dir), "HOME": str(open_dir), "PROVISION_DIR": str(open_dir / "state")}
    # The Makefile and the script in a folder anybody may enter (the checkout may be
    # under one only its owner enters), with virtualenv stamps newer than the locks.
    project = open_dir / "project"
    (project / "scripts").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "requirements-dev.lock", "requirements-build.lock",
                 "requirements-checkov.lock",
                 "scripts/provision"):
        shutil.copy(REPO_ROOT / name, project / name)
    for venv in (".venv", ".venv-checkov"):
        (project / venv).mkdir()
        (project / venv / ".installed").touch()
    result = subprocess.run(["make", "test"], cwd=project, env=env, capture_output=True, text=True, timeout=300,
                            **not_root())
    assert result.returncode != 0
    assert "provision: error: the tests need" in result.stderr
    assert "test session starts" not in result.stdout + result.stderr  # pytest never ran


# --- a shared host: another local user must not steer the script (issue 28) ------------------

OTHER_USER = "provision-other"


@pytest.fixture(scope="module")
def other_user():
    """A second local user, made when absent (the tests run as root here)."""
    import pwd

    if os.geteuid() != 0:
        pytest.skip("needs root to make a second local user and to run the script as root")
    if subprocess.run(["id", OTHER_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER],
                       check=True, capture_output=True)
    return pwd.getpwnam(OTHER_USER)


def as_user(user, *command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, user=user.pw_uid, group=user.pw_gid, extra_groups=[])


@pytest.fixture
def shared_tmp():
    """A folder like /tmp: anyone may create in it, no one may remove another's entries."""
    folder = Path(tempfile.mkdtemp(prefix="provision-shared-"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def free_ports() -> dict[str, str]:
    return {"TEST_MYSQL_PORT": str(free_port()), "TEST_REDIS_PORT": str(free_port()),
            "TEST_MEMCACHED_PORT": str(free_port())}


def alive(pid: int) -> bool:
    """Running, not a zombie awaiting its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def process_uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


@pytest.mark.parametrize("prepared", ["symlink", "folder"])
def test_a_state_folder_another_user_prepared_is_refused(other_user, shared_tmp, tmp_path, prepared):
    """PROVISION_DIR made first by another user, as a symlink to a root-only folder or as their
    own folder: root's run refuses it in one line and writes nothing there."""
    root_only = tmp_path / "root-only"
    root_only.mkdir(mode=0o700)
    planted = shared_tmp / "state"
    if prepared == "symlink":
        as_user(other_user, "ln", "-s", str(root_only), str(planted))
    else:
        as_user(other_user, "mkdir", "-m", "777", str(planted))
    ports = free_ports()
    result = run({**os.environ, **ports, "PROVISION_DIR": str(planted)})
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [f"provision: error: PROVISION_DIR={planted} is not a folder of root that only it may write "
                      "(a symlink, or another user's): remove it or name another"]
    assert list(root_only.iterdir()) == [] and (prepared == "symlink" or list(planted.iterdir()) == [])
    with socket.socket() as probe:  # nothing was started
        assert probe.connect_ex(("127.0.0.1", int(ports["TEST_MEMCACHED_PORT"]))) != 0


def test_the_default_state_is_a_new_private_folder_and_no_service_runs_as_root(other_user, shared_tmp, tmp_path):
    """Another user plants the old predictable name (TMPDIR/test-services-0) as a symlink; root's
    run makes its own `mktemp -d` folder instead. Its private MariaDB runs as an unprivileged
    user with secure_file_priv set, so `SELECT ... INTO OUTFILE` writes no file as root."""
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    as_user(other_user, "ln", "-s", str(target), str(shared_tmp / "test-services-0"))
    ports = free_ports()
    environ = {key: value for key, value in os.environ.items() if key != "PROVISION_DIR"}
    result = run({**environ, **ports, "TMPDIR": str(shared_tmp)})
    state = None
    try:
        assert result.returncode == 0, result.stderr
        assert list(target.iterdir()) == []
        states = [path for path in shared_tmp.iterdir() if path.name.startswith("test-services-0.")]
        assert len(states) == 1
        state = states[0]
        assert not state.is_symlink() and state.stat().st_uid == 0 and (state.stat().st_mode & 0o022) == 0
        for kind in ("mariadb", "redis", "memcached"):
            assert f"starting a private {kind}" in result.stderr
            pid = int(next(state.glob(f"{kind}-*/pid")).read_text())
            assert process_uid(pid) != 0, kind

        connection = pymysql.connect(host="127.0.0.1", port=int(ports["TEST_MYSQL_PORT"]), user="root",
                                     database="test")
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT @@secure_file_priv")
            assert cursor.fetchone()[0]  # set: not empty, not every folder
            with pytest.raises(pymysql.err.MySQLError, match="secure-file-priv"):
                cursor.execute(f"SELECT 'planted' INTO OUTFILE '{shared_tmp}/outfile'")
        assert not (shared_tmp / "outfile").exists()
    finally:
        if state is not None:
            stop_private_services(state)
