"""`python -m bench.socket_clients URL CHANNEL REDIS_URL [--plain]`: the Socket.IO
measures, in a process of their own with gevent's monkey patching, printed as
JSON. --plain: sockets without a login (the bare Flask-SocketIO baseline).

Hundreds of threaded clients in one process measure the GIL more than the
server: with 500 sockets on threads, fan-out p99 was ~450 ms, most of it
spent waiting for a client thread to run. Patched, the same clients are
greenlets on one core (p99 ~100-200 ms on the same machine); the server's
worker keeps the other core.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402 - after patching, as gevent requires
import json  # noqa: E402
import uuid  # noqa: E402

from bench import sockets  # noqa: E402
from flask_keel.realtime import Emitter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.socket_clients")
    parser.add_argument("url")
    parser.add_argument("channel")
    parser.add_argument("redis_url")
    parser.add_argument("--rpc-clients", type=int, default=50)
    parser.add_argument("--fanout-clients", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--broadcasts", type=int, default=20, help="broadcasts measured (p99 over all deliveries)")
    parser.add_argument("--plain", action="store_true", help="no login: the bare Flask-SocketIO baseline")
    args = parser.parse_args()

    # Each run signs up users of its own: the measure runs several times against one server.
    run_id = uuid.uuid4().hex[:6]

    def open_clients(count: int, username: str):
        if args.plain:
            return sockets.plain_clients(args.url, count)
        return sockets.login_clients(args.url, count, f"{username}_{run_id}")

    clients = open_clients(args.rpc_clients, "bench_rpc")
    rpc_per_second, rpc_failures = sockets.rpc_rate(clients, args.seconds)
    for client in clients:
        client.close()
    clients = open_clients(args.fanout_clients, "bench_fanout")
    try:
        fan = sockets.fan_out(clients, Emitter(args.redis_url, args.channel), args.broadcasts)
    finally:
        for client in clients:
            client.close()
    print(json.dumps({"rpc_per_second": rpc_per_second, "rpc_failures": rpc_failures, **fan}))


if __name__ == "__main__":
    main()
