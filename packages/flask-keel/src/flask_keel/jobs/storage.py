"""Huey's SQLite and Redis storages, made so that a job taken is never a job lost.

Huey removes a message from the queue when a consumer takes it: a consumer
killed while running it (SIGKILL, OOM, a lost host) loses it. Here taking a
job moves it, in one atomic step, into the consumer's claims; it leaves them
when it has run (`ack`). Consumers beat a heartbeat; the claims of a consumer
silent for longer than the lease go back to the queue (`recover`), so the job
runs again: at least once, which is why tasks are written to be idempotent.

Periodic tasks are deduplicated the same way across consumers: `claim_period`
lets one consumer, and one only, enqueue a periodic task for a given period.

Delayed jobs (a retry with a delay, `.schedule(...)`) wait in huey's schedule.
Huey takes the due ones out of it, then enqueues them: two steps, and a consumer
killed between them would lose those jobs. Here `read_schedule` moves the due
jobs from the schedule to the queue in one atomic step and hands huey nothing to
enqueue (a job's priority is not kept on that path; the template uses none).
"""

from __future__ import annotations

import time

from huey.storage import RedisStorage, SqliteStorage
from redis.exceptions import TimeoutError as RedisTimeout


class ClaimingSqliteStorage(SqliteStorage):
    table_claim = ("create table if not exists claim (id integer not null primary key, queue text not null, "
                   "consumer text not null, data blob not null, claimed_at real not null)")
    table_consumer = ("create table if not exists consumer (queue text not null, id text not null, "
                      "seen real not null, primary key (queue, id))")
    table_period = ("create table if not exists period (queue text not null, task text not null, "
                    "bucket integer not null, primary key (queue, task))")
    ddl = [*SqliteStorage.ddl, table_claim, table_consumer, table_period]

    consumer_id: str | None = None

    def dequeue(self):
        if self.consumer_id is None:  # not a consumer: huey's plain behaviour
            return super().dequeue()
        if not self.sql("select 1 from task where queue = ? limit 1", (self.name,), results=True):
            return None
        with self.db(commit=True) as curs:
            curs.execute("select id, data from task where queue = ? order by priority desc, id limit 1",
                         (self.name,))
            row = curs.fetchone()
            if row is None:
                return None
            curs.execute("delete from task where id = ?", (row[0],))
            curs.execute("insert into claim (queue, consumer, data, claimed_at) values (?, ?, ?, ?)",
                         (self.name, self.consumer_id, row[1], time.time()))
            return row[1]

    def ack(self, data: bytes) -> None:
        self.sql("delete from claim where id = (select id from claim where queue = ? and consumer = ? "
                 "and data = ? limit 1)", (self.name, self.consumer_id, self.to_blob(data)), commit=True)

    def beat(self) -> None:
        self.sql("insert or replace into consumer (queue, id, seen) values (?, ?, ?)",
                 (self.name, self.consumer_id, time.time()), commit=True)

    def recover(self, lease: float) -> int:
        """Put the claims of consumers silent for `lease` seconds back in the queue; how many."""
        # A constant fragment (no value is ever formatted into the SQL; all are parameters).
        stale = "consumer != ? and consumer not in (select id from consumer where queue = ? and seen >= ?)"
        params = (self.consumer_id or "", self.name, time.time() - lease)
        with self.db(commit=True) as curs:
            curs.execute(f"insert into task (queue, data, priority) select queue, data, 0 from claim "  # noqa: S608
                         f"where queue = ? and {stale} order by id", (self.name, *params))
            moved = curs.rowcount
            curs.execute(f"delete from claim where queue = ? and {stale}", (self.name, *params))  # noqa: S608
            curs.execute("delete from consumer where queue = ? and id != ? and seen < ?", (self.name, *params[::2]))
            return moved

    def release(self) -> int:
        """This consumer's claims back to the queue (a stop that could not finish them)."""
        with self.db(commit=True) as curs:
            curs.execute("insert into task (queue, data, priority) select queue, data, 0 from claim "
                         "where queue = ? and consumer = ? order by id", (self.name, self.consumer_id))
            moved = curs.rowcount
            curs.execute("delete from claim where queue = ? and consumer = ?", (self.name, self.consumer_id))
            curs.execute("delete from consumer where queue = ? and id = ?", (self.name, self.consumer_id))
            return moved

    def claimed_items(self) -> list[tuple[str, bytes, float]]:
        return self.sql("select consumer, data, claimed_at from claim where queue = ? order by id",
                        (self.name,), results=True)

    def read_schedule(self, ts) -> list:
        with self.db(commit=True) as curs:  # one transaction: out of the schedule and into the queue
            params = (self.name, ts.timestamp())
            curs.execute("insert into task (queue, data, priority) select queue, data, 0 from schedule "
                         "where queue = ? and timestamp <= ? order by timestamp, id", params)
            curs.execute("delete from schedule where queue = ? and timestamp <= ?", params)
        return []

    def claim_period(self, task: str, bucket: int) -> bool:
        with self.db(commit=True) as curs:
            curs.execute("insert into period (queue, task, bucket) values (?, ?, ?) on conflict (queue, task) "
                         "do update set bucket = excluded.bucket where bucket < excluded.bucket",
                         (self.name, task, bucket))
            return curs.rowcount == 1


# Move every claim of a consumer back onto the consuming end of the queue, atomically.
_RELEASE_LUA = """
local moved = 0
while redis.call('lmove', KEYS[1], KEYS[2], 'RIGHT', 'RIGHT') do moved = moved + 1 end
return moved
"""

# Move the due jobs of the schedule onto the queue (as huey's enqueue would push
# them), atomically; how many.
_SCHEDULE_TO_QUEUE_LUA = """
local due = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1])
for _, data in ipairs(due) do
    redis.call('lpush', KEYS[2], data)
    redis.call('zrem', KEYS[1], data)
end
return #due
"""

_CLAIM_PERIOD_LUA = """
local current = tonumber(redis.call('hget', KEYS[1], ARGV[1]) or '-1')
if current < tonumber(ARGV[2]) then redis.call('hset', KEYS[1], ARGV[1], ARGV[2]) return 1 end
return 0
"""


class ClaimingRedisStorage(RedisStorage):
    consumer_id: str | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Keys without a time-to-live: compose's Redis evicts only keys that have one.
        self.consumers_key = f"huey.consumers.{self.name}"
        self.period_key = f"huey.periods.{self.name}"
        self._release = self.conn.register_script(_RELEASE_LUA)
        self._claim_period = self.conn.register_script(_CLAIM_PERIOD_LUA)
        self._schedule_to_queue = self.conn.register_script(_SCHEDULE_TO_QUEUE_LUA)

    def read_schedule(self, ts) -> list:
        self._schedule_to_queue(keys=[self.schedule_key, self.queue_key], args=[self.convert_ts(ts)])
        return []

    def claims_key(self, consumer_id: str) -> str:
        return f"huey.claims.{self.name}.{consumer_id}"

    def dequeue(self):
        if self.consumer_id is None:
            return super().dequeue()
        # LPUSH in, taken from the right: BLMOVE takes the oldest into this consumer's claims.
        try:
            return self.conn.blmove(self.queue_key, self.claims_key(self.consumer_id), self.read_timeout,
                                    "RIGHT", "LEFT")
        except RedisTimeout:
            return None

    def ack(self, data: bytes) -> None:
        self.conn.lrem(self.claims_key(self.consumer_id), 1, data)

    def beat(self) -> None:
        self.conn.hset(self.consumers_key, self.consumer_id, repr(time.time()))

    def recover(self, lease: float) -> int:
        moved = 0
        oldest = time.time() - lease
        for raw_id, seen in self.conn.hgetall(self.consumers_key).items():
            consumer = raw_id.decode()
            if consumer == self.consumer_id or float(seen) >= oldest:
                continue
            moved += int(self._release(keys=[self.claims_key(consumer), self.queue_key]))
            self.conn.hdel(self.consumers_key, consumer)
        return moved

    def release(self) -> int:
        moved = int(self._release(keys=[self.claims_key(self.consumer_id), self.queue_key]))
        self.conn.hdel(self.consumers_key, self.consumer_id)
        return moved

    def claimed_items(self) -> list[tuple[str, bytes, float]]:
        items = []
        for raw_id, seen in self.conn.hgetall(self.consumers_key).items():
            consumer = raw_id.decode()
            items += [(consumer, data, float(seen)) for data in self.conn.lrange(self.claims_key(consumer), 0, -1)]
        return items

    def claim_period(self, task: str, bucket: int) -> bool:
        return bool(self._claim_period(keys=[self.period_key], args=[task, bucket]))
