"""The baseline: a bare Flask app, served by the same gunicorn gevent config.

/json            a small JSON object, like the template's /ws/info
/db/<code>       the same course query as the template's /ws/catalog/<code>,
                 with PyMySQL and a pool of its own, bounded like the
                 template's (40 connections): unbounded, it would measure pool
                 size (64 connections against 40) rather than framework cost
"""

from __future__ import annotations

import os
import queue
import threading

import pymysql
from flask import Flask, abort, jsonify

app = Flask(__name__)

POOL_SIZE = 40  # the template's MySQL pool (flask_keel/db/engines.py)
_pool: queue.LifoQueue = queue.LifoQueue()
_slots = threading.BoundedSemaphore(POOL_SIZE)  # gevent's, under the gevent worker


def _connection():
    try:
        return _pool.get_nowait()
    except queue.Empty:
        return pymysql.connect(host=os.environ["BENCH_DB_HOST"], port=int(os.environ["BENCH_DB_PORT"]),
                               user=os.environ["BENCH_DB_USER"], password=os.environ.get("BENCH_DB_PASSWORD", ""),
                               database=os.environ["BENCH_DB_NAME"], charset="utf8mb4", autocommit=True)


@app.get("/json")
def json_endpoint():
    return jsonify(name="Flask", env="PROD")


@app.get("/db/<code>")
def db_endpoint(code: str):
    with _slots:
        connection = _connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT id, course_name, course_code, teacher_id FROM courses WHERE course_code = %s",
                               (code,))
                row = cursor.fetchone()
        finally:
            _pool.put(connection)
    if row is None:
        abort(404)
    return jsonify(id=row[0], course_name=row[1], course_code=row[2], teacher_id=row[3])
