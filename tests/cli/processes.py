"""Running `engage` as a real process, and finding the embedded PostgreSQL processes it leaves behind.

Every wait here is bounded: a command has a timeout, a server a start-up deadline, a stop a deadline; a
process that overstays is killed and the test fails with what it printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

# The console script `pip install` made, i.e. what a user types.
ENGAGE = Path(sys.executable).with_name("engage")
COMMAND_TIMEOUT_SECONDS = 120.0
# Start-up on a slow two-core machine: ~5 s of imports, migrations, argon2 hashes for the demo logins, and
# on first use an initdb. Generous, but bounded.
STARTUP_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 30.0


def clean_environment() -> dict[str, str]:
    """This process's environment without ENGAGE_*: the developer's shell must not leak into a test."""
    return {key: value for key, value in os.environ.items() if not key.startswith("ENGAGE_")}


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def problem(self) -> dict[str, Any]:
        """The RFC 7807-shaped body a failing command writes as its last line on stderr."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        assert lines, f"nothing on stderr (exit {self.returncode}); stdout: {self.stdout!r}"
        body: dict[str, Any] = json.loads(lines[-1])
        return body


async def run_engage(*args: str, env: Mapping[str, str], limit_seconds: float = COMMAND_TIMEOUT_SECONDS) -> Result:
    process = await asyncio.create_subprocess_exec(
        str(ENGAGE),
        *args,
        env=dict(env),
        cwd=env["ENGAGE_DATA_DIR"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # Its own process group: what it started (a bench's simulator or API) dies with it when it overstays.
        # A grandchild left alive would hold the output pipes open, and waiting for the child would never end.
        start_new_session=True,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), limit_seconds)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise
    assert process.returncode is not None
    return Result(process.returncode, stdout.decode(), stderr.decode())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Served:
    """An `engage serve` process, started in a process group of its own."""

    process: asyncio.subprocess.Process
    port: int
    stdout_path: Path
    stderr_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return f"stdout:\n{self.stdout_path.read_text()}\nstderr:\n{self.stderr_path.read_text()}"

    def demo(self) -> dict[str, Any]:
        """The demo block `serve` prints on stdout before it accepts connections."""
        body: dict[str, Any] = json.loads(self.stdout_path.read_text())
        return body

    async def wait_until_answering(self, path: str) -> httpx.Response:
        """Poll `path` over real HTTP until it answers 200; fail early if the process exits."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise AssertionError(f"serve exited with {self.process.returncode}\n{self.output()}")
                try:
                    response = await client.get(path)
                except httpx.TransportError:
                    response = None
                if response is not None and response.status_code == 200:
                    return response
                await asyncio.sleep(0.25)
        raise AssertionError(f"{path} did not answer 200 within {STARTUP_TIMEOUT_SECONDS} s\n{self.output()}")

    async def terminate(self) -> int:
        """SIGTERM (what a process supervisor sends) and the exit status once it has stopped."""
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_SECONDS)

    async def kill_group(self) -> None:
        """SIGKILL to the whole process group, as when a terminal or a container runtime kills it."""
        os.killpg(self.process.pid, signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_SECONDS)


@asynccontextmanager
async def serving(*args: str, env: Mapping[str, str], logs: Path) -> AsyncIterator[Served]:
    """`engage serve --port <free> *args`; whatever happens in the test, its process group is gone after."""
    port = free_port()
    stdout_path, stderr_path = logs / f"serve-{port}.out", logs / f"serve-{port}.err"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            str(ENGAGE),
            "serve",
            "--port",
            str(port),
            *args,
            env=dict(env),
            cwd=env["ENGAGE_DATA_DIR"],
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        yield Served(process, port, stdout_path, stderr_path)
    finally:
        if process.returncode is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)


def postmasters(data_dir: Path) -> list[psutil.Process]:
    """Live postmasters of the embedded server kept under `data_dir` (started with `-D <data_dir>/pg`)."""
    pgdata = str((data_dir / "pg").resolve())
    found = []
    for process in psutil.process_iter(["name", "cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] != psutil.STATUS_ZOMBIE and pgdata in cmdline:
            found.append(process)
    return found


def postmaster_pid(data_dir: Path) -> int:
    """The pid the running server wrote in `postmaster.pid` (its first line)."""
    return int((data_dir / "pg" / "postmaster.pid").read_text().splitlines()[0])


def is_running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until_gone(pid: int, seconds: float = STOP_TIMEOUT_SECONDS) -> bool:
    """True once `pid` has exited (a stopped postmaster removes its pid file a moment before it exits)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not is_running(pid):
            return True
        time.sleep(0.05)
    return False


def stop_postmasters(data_dir: Path) -> None:
    """Clean-up for a failed test: fast shutdown (SIGINT) of any server left on `data_dir`, then SIGKILL."""
    for process in postmasters(data_dir):
        try:
            process.send_signal(signal.SIGINT)
            process.wait(STOP_TIMEOUT_SECONDS)
        except psutil.NoSuchProcess:
            continue
        except psutil.TimeoutExpired:
            process.kill()
