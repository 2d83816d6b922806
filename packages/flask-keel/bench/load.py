"""HTTP load with wrk, parsed into requests/s, latency and error counts."""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
from dataclasses import dataclass


@dataclass
class LoadResult:
    requests_per_second: float
    latency_p50_ms: float
    latency_p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    # wrk's own CPU time over its run, in cores (1.0: one core busy all along)
    wrk_cores: float = 0.0


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, connections: int, seconds: int, headers: dict[str, str] | None = None,
        threads: int = 1) -> LoadResult:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_seconds = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", output, re.M))
    if set(percentiles) != {"50", "99"}:
        raise RuntimeError(f"unexpected wrk output for {url}:\n{output}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return LoadResult(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        latency_p50_ms=_ms(percentiles["50"]),
        latency_p99_ms=_ms(percentiles["99"]),
        requests=int(re.search(r"(\d+) requests in", output).group(1)),
        non_2xx=int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        wrk_cores=wrk_seconds / seconds,
    )
