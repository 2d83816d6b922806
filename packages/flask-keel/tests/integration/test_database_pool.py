"""The MySQL pool: a connection the server dropped while it sat idle is replaced unseen."""

from __future__ import annotations

import time

import pymysql
import pytest
from sqlalchemy import event, text

from flask_keel import create_app
from flask_keel.db import db
from flask_keel.db.engines import IDLE_PING_SECONDS
from flask_keel.testing import project_config

pytestmark = pytest.mark.integration


def connection_id(app) -> int:
    with app.app_context():  # its teardown returns the connection to the pool
        return db.session.execute(text("SELECT CONNECTION_ID()")).scalar_one()


def test_a_connection_killed_while_idle_is_replaced_without_an_error(tmp_path, mariadb, mariadb_databases):
    app = create_app(project_config(tmp_path, "mariadb", mariadb, mariadb_databases("pool"),
                                   DATABASE={"main": {"engine": {"pool_size": 1}}}))
    first = connection_id(app)
    with pymysql.connect(host=mariadb[0], port=mariadb[1], user="root", password="", autocommit=True) as admin:
        admin.cursor().execute(f"KILL {first}")
    time.sleep(IDLE_PING_SECONDS + 0.2)
    second = connection_id(app)  # would raise "MySQL server has gone away" without the ping
    assert second != first


def test_only_a_connection_idle_past_the_limit_is_pinged(tmp_path, mariadb, mariadb_databases, monkeypatch):
    app = create_app(project_config(tmp_path, "mariadb", mariadb, mariadb_databases("pool"),
                                   DATABASE={"main": {"engine": {"pool_size": 1}}}))
    connection_id(app)
    pings: list[int] = []
    ping = pymysql.connections.Connection.ping

    def counting_ping(self, *args, **kwargs):
        pings.append(1)
        return ping(self, *args, **kwargs)

    monkeypatch.setattr(pymysql.connections.Connection, "ping", counting_ping)
    for _ in range(5):
        connection_id(app)
    assert pings == []  # in steady use: no round trip before each request
    time.sleep(IDLE_PING_SECONDS + 0.2)
    connection_id(app)
    assert pings == [1]


def test_connections_share_one_tls_context_instead_of_loading_the_ca_store_each(tmp_path, mariadb,
                                                                                 mariadb_databases):
    app = create_app(project_config(tmp_path, "mariadb", mariadb, mariadb_databases("pool")))
    with app.app_context():
        engine = db.engine
    # A listener of the user's own (rotating credentials, say) still sees every connect.
    connects: list[str] = []
    event.listen(engine, "do_connect", lambda _dialect, _record, _cargs, cparams: connects.append(cparams["user"]))
    first, second = engine.connect(), engine.connect()
    try:
        contexts = {id(connection.connection.dbapi_connection.ctx) for connection in (first, second)}
        assert len(contexts) == 1
        assert first.execute(text("SELECT 1")).scalar_one() == 1
        assert connects == ["root", "root"]
    finally:
        first.close()
        second.close()


def rollbacks_so_far(app) -> int:
    """ROLLBACK statements the server has run on the pool's one connection (this query's own session aside)."""
    with app.app_context():
        return int(db.session.execute(text("SHOW SESSION STATUS LIKE 'Com_rollback'")).one()[1])


def test_a_request_rolls_its_connection_back_once_not_twice(tmp_path, mariadb, mariadb_databases):
    app = create_app(project_config(tmp_path, "mariadb", mariadb, mariadb_databases("pool"),
                                   DATABASE={"main": {"engine": {"pool_size": 1}}}))
    before = rollbacks_so_far(app)
    for _ in range(10):
        connection_id(app)
    # One per context (the session's close), plus the one of the counting query itself.
    assert rollbacks_so_far(app) - before == 11


def test_a_connection_returned_mid_transaction_is_still_rolled_back(tmp_path, mariadb, mariadb_databases):
    app = create_app(project_config(tmp_path, "mariadb", mariadb, mariadb_databases("pool"),
                                   DATABASE={"main": {"engine": {"pool_size": 1}}}))
    with app.app_context():
        engine = db.engine
    raw = engine.raw_connection()  # the DBAPI connection itself: nothing of SQLAlchemy sees the transaction
    with raw.cursor() as cursor:
        cursor.execute("START TRANSACTION")
        cursor.execute("SELECT @@in_transaction")
        assert cursor.fetchone()[0] == 1
    raw.close()  # back to the pool without commit or rollback
    with app.app_context():
        assert db.session.execute(text("SELECT @@in_transaction")).scalar_one() == 0
