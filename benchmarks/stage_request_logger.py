"""Benchmark the ``request-logger`` stage: >= 2,000 CloudEvents a second in one process, with flat memory.

    python benchmarks/stage_request_logger.py [--events 60000] [--connections 16]

Starts ``mlopsctl-stage request-logger`` as a process (local mode: rows go to a JSON lines table
under a temporary root), sends it KServe-shaped request and response CloudEvents over
keep-alive connections from this process, and prints the events per second, the rows written
and the logger's resident memory at each quarter of the run. Exits 1 when the rate misses the
target, a row is missing, or memory grew by more than a fifth between the first and last quarters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_EVENTS_PER_SECOND = 2000
MEMORY_GROWTH = 1.2
TABLE = "bench.logs.requests"
BODY = json.dumps({"instances": [{f"f{i}": i * 0.5 for i in range(20)}]}).encode()
ANSWER = json.dumps({"predictions": [{"score": 0.5}]}).encode()


def event(kind: str, event_id: str, body: bytes) -> bytes:
    headers = [
        "POST / HTTP/1.1",
        "Host: logger",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"ce-id: {event_id}",
        f"ce-type: org.kubeflow.serving.inference.{kind}",
        "ce-source: http://localhost:9081/",
        "ce-specversion: 1.0",
        "ce-time: 2025-01-01T00:00:00.000000001Z",
        "ce-inferenceservicename: bench-primary",
        "ce-namespace: bench",
        "ce-component: predictor",
        "ce-endpoint: default",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


async def send(port: int, ids: list[str], statuses: list[int]) -> None:
    """Each id's request then response, one event at a time on one keep-alive connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for event_id in ids:
        for kind, body in (("request", BODY), ("response", ANSWER)):
            writer.write(event(kind, event_id, body))
            head = await reader.readuntil(b"\r\n\r\n")
            statuses.append(int(head.split(b" ", 2)[1]))
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            await reader.readexactly(length)
    writer.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def load(port: int, pid: int, events: int, connections: int) -> tuple[float, list[int], list[int]]:
    """Send ``events`` events in four rounds; the wall time, the answers, and the RSS after each round."""
    statuses: list[int] = []
    memory = []
    pairs = events // 2
    quarter = pairs // 4
    elapsed = 0.0
    for round_ in range(4):
        ids = [f"r{round_}-{i}" for i in range(quarter)]
        start = time.perf_counter()
        await asyncio.gather(*(send(port, ids[c::connections], statuses) for c in range(connections)))
        elapsed += time.perf_counter() - start
        memory.append(rss_kib(pid))
    return elapsed, statuses, memory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main_benchmark() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--connections", type=int, default=16)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp, "data")
        settings = Path(temp, "local.json")
        settings.write_text(json.dumps({"root": str(root)}))
        port = free_port()
        config = {
            "table": TABLE,
            "endpoint": "bench",
            "samplingRate": 1.0,
            "flushSeconds": 1,
            "batchSize": 500,
        }
        logger = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlopsctl_stage",
                "request-logger",
                "--config",
                json.dumps(config),
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
            ],
            env={**os.environ, "MLOPSCTL_STAGE_LOCAL": str(settings)},
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            elapsed, statuses, memory = asyncio.run(
                load(port, logger.pid, options.events, options.connections)
            )
        finally:
            logger.send_signal(signal.SIGTERM)
            logger.wait(timeout=60)
        table = root / "bigquery" / f"{TABLE}.jsonl"
        written = sum(1 for _ in table.open()) if table.exists() else 0
    sent = len(statuses)
    rate = sent / elapsed
    refused = sum(1 for s in statuses if s != 200)
    flat = memory[-1] <= memory[0] * MEMORY_GROWTH
    met = rate >= TARGET_EVENTS_PER_SECOND and written == sent // 2 and not refused and flat
    print(
        f"request-logger: {sent:,} events in {elapsed:.2f} s = {rate:,.0f} events/s, {refused} refused, "
        f"{written:,} rows written; RSS by quarter {', '.join(f'{m / 1024:.0f}' for m in memory)} MiB "
        f"(target >= {TARGET_EVENTS_PER_SECOND:,} events/s with flat memory: {'met' if met else 'MISSED'})"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main_benchmark())
