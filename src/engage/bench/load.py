"""Load from a separate process: `wrk` where it is installed (Debian's `wrk` package), else this module run as
`python -m engage.bench.load` (asyncio, keep-alive HTTP/1.1 connections, one per client). Either way the server
under test never shares a process, an event loop or a core's scheduler slot with the load it answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Shot:
    """One endpoint to load: method, URL, headers and (for POST) a JSON body."""

    method: str
    url: str
    headers: dict[str, str]
    body: str | None = None


@dataclass(frozen=True, slots=True)
class Load:
    requests: int
    errors: int  # responses other than 2xx, and socket errors
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    tool: str


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS_MS[unit]


def parse_wrk(output: str) -> Load:
    """Requests, errors, requests/s and the p50/p99 of `wrk --latency` output."""
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)
    return Load(
        requests=requests,
        errors=errors,
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(re.search(r"\s50%\s+(\S+)", output).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"\s99%\s+(\S+)", output).group(1)),  # type: ignore[union-attr]
        tool="wrk",
    )


def _lua(shot: Shot) -> str:
    lines = [f"wrk.method = {json.dumps(shot.method)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in shot.headers.items()]
    if shot.body is not None:
        lines += ['wrk.headers["Content-Type"] = "application/json"', f"wrk.body = {json.dumps(shot.body)}"]
    return "\n".join(lines) + "\n"


async def drive(shot: Shot, *, seconds: float, connections: int) -> Load:
    """Load `shot` for `seconds` from `connections` keep-alive connections in another process."""
    wrk = shutil.which("wrk")
    if wrk is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(_lua(shot))
        try:
            threads = max(1, min(2, connections))
            process = await asyncio.create_subprocess_exec(
                wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
                "-s", script.name, shot.url,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(process.communicate(), timeout=seconds + 60)
        finally:
            os.unlink(script.name)
        if process.returncode != 0:
            raise RuntimeError(f"wrk failed: {err.decode(errors='replace')[-500:]}")
        return parse_wrk(out.decode())
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engage.bench.load", json.dumps(asdict(shot)), str(seconds), str(connections),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=seconds + 60)
    if process.returncode != 0:
        raise RuntimeError(f"the load process failed: {err.decode(errors='replace')[-500:]}")
    return Load(**json.loads(out))


# The fallback client: raw HTTP/1.1 over asyncio streams, so the client costs little next to the server.


async def _client(shot: Shot, deadline: float, latencies: list[float], errors: list[int]) -> None:
    parts = urlsplit(shot.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    body = (shot.body or "").encode()
    head = [f"{shot.method} {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1", f"Host: {parts.netloc}"]
    head += [f"{k}: {v}" for k, v in shot.headers.items()]
    if shot.body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readuntil(b"\r\n")
            length, chunked = 0, False
            while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
                    chunked = True
            if chunked:
                while (size := int((await reader.readuntil(b"\r\n")).strip(), 16)) > 0:
                    await reader.readexactly(size + 2)
                await reader.readuntil(b"\r\n")
            else:
                await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            if not status_line.split()[1].startswith(b"2"):
                errors.append(1)
    finally:
        writer.close()


async def _fallback(shot: Shot, seconds: float, connections: int) -> Load:
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(*(_client(shot, started + seconds, latencies, errors) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    return Load(
        requests=len(latencies),
        errors=len(errors),
        requests_per_second=round(len(latencies) / elapsed, 1),
        p50_ms=round(ordered[len(ordered) // 2], 2),
        p99_ms=round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
        tool="python",
    )


if __name__ == "__main__":
    shot = Shot(**json.loads(sys.argv[1]))
    print(json.dumps(asdict(asyncio.run(_fallback(shot, float(sys.argv[2]), int(sys.argv[3]))))))
