"""Huey's SQLite and Redis storages, made so that a job taken is never a job lost.

Huey removes a message from the queue when a consumer takes it: a consumer
killed while running it (SIGKILL, OOM, a lost host) loses it. Here taking a
job moves it, in one atomic step, into the consumer's claims; it leaves them
when it has run (`ack`). Consumers beat a heartbeat; the claims of a consumer
silent for longer than the lease go back to the queue (`recover`), so the job
runs again: at least once, which is why tasks are written to be idempotent.

Periodic tasks are deduplicated the same way across consumers: `claim_period`
lets one consumer, and one only, enqueue a periodic task for a given period.

Each user's jobs waiting or running are counted per task (`admit` before a job is
enqueued, `settle` when it is done or failed for good): JOBS.PER_USER bounds them.

On SQLite (the embedded defaults, where one consumer runs a few jobs at once) a
consumer takes no job of a user whose other job is running: one user's queued
imports wait for each other, and another user's job starts at the next free slot.

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
    table_pending = ("create table if not exists pending (queue text not null, owner text not null, "
                     "job text not null, since real not null, primary key (queue, job))")
    ddl = [*SqliteStorage.ddl, table_claim, table_consumer, table_period, table_pending]

    consumer_id: str | None = None

    def dequeue(self):
        if self.consumer_id is None:  # not a consumer: huey's plain behaviour
            return super().dequeue()
        if not self.sql("select 1 from task where queue = ? limit 1", (self.name,), results=True):
            return None
        with self.db(commit=True) as curs:
            # The oldest job whose user has no job running (a job of nobody always may run).
            curs.execute(f"select id, data from task where queue = ? and coalesce({_USER_OF} not in "  # noqa: S608
                         f"(select {_USER_OF} from claim where queue = ? and {_USER_OF} is not null), 1) "
                         "order by priority desc, id limit 1", (self.name, self.name))
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

    def admit(self, owner: str, job: str, limit: int | None, oldest: float) -> bool:
        """Count `job` for `owner` unless `limit` of theirs (newer than `oldest`) are counted already."""
        with self.db(commit=True) as curs:
            curs.execute("delete from pending where queue = ? and owner = ? and since < ?", (self.name, owner, oldest))
            if limit is not None:
                curs.execute("select count(*) from pending where queue = ? and owner = ?", (self.name, owner))
                if curs.fetchone()[0] >= limit:
                    return False
            curs.execute("insert or replace into pending (queue, owner, job, since) values (?, ?, ?, ?)",
                         (self.name, owner, job, time.time()))
            return True

    def settle(self, owner: str, job: str) -> None:
        self.sql("delete from pending where queue = ? and job = ?", (self.name, job), commit=True)


# The user a stored job message was enqueued for (serializer.py's JSON, USER_KEY in its
# kwargs); null for a message that is not JSON (set aside when taken, queue.py).
_USER_OF = """(case when json_valid(cast(data as text))
                then json_extract(cast(data as text), '$."$message".kwargs._job_user') end)"""


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

# Count a job for its owner, unless they have ARGV[2] counted already (those older than
# ARGV[3] no longer count); 1 if counted. ARGV[2] empty: no limit.
_ADMIT_LUA = """
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[3])
if ARGV[2] ~= '' and redis.call('zcard', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('zadd', KEYS[1], ARGV[4], ARGV[1])
return 1
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
        self._admit = self.conn.register_script(_ADMIT_LUA)

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

    def pending_key(self, owner: str) -> str:
        # No time-to-live either: a count evicted would lift its owner's limit.
        return f"huey.pending.{self.name}.{owner}"

    def admit(self, owner: str, job: str, limit: int | None, oldest: float) -> bool:
        counted = self._admit(keys=[self.pending_key(owner)],
                              args=[job, "" if limit is None else limit, oldest, time.time()])
        return bool(counted)

    def settle(self, owner: str, job: str) -> None:
        self.conn.zrem(self.pending_key(owner), job)
