"""A moto S3 server in a process of its own on a loopback port: the S3 the recordings benchmark (and the tests)
talk to when no real one is configured. moto is a development dependency; it runs as `python -m moto.server`,
so nothing here imports it.

Every wait is bounded: start-up has a deadline (the child's exit ends it early), stopping sends SIGTERM and then,
past its deadline, SIGKILL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx

# moto imports every AWS service's models on start: about 3 s here, 10 s on a slow machine. Generous, bounded.
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


class MotoUnavailable(RuntimeError):
    """moto is not installed, or its server did not answer in time."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def moto_server(env: Mapping[str, str] | None = None) -> Iterator[str]:
    """moto's server on 127.0.0.1 for as long as the block runs: its endpoint URL. `env` is added to the child's
    environment (moto's own settings, such as `MOTO_S3_DEFAULT_KEY_BUFFER_SIZE`)."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        # werkzeug logs every request on stderr; nobody reads it, and a pipe nobody drains would stall the server.
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_until_answering(process, endpoint)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_SECONDS)


def _wait_until_answering(process: subprocess.Popen[bytes], endpoint: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise MotoUnavailable(
                    f"the moto server exited with {process.returncode}; is moto[server] installed (`make install`)?"
                )
            try:
                if client.get(f"{endpoint}/moto-api/data.json").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise MotoUnavailable(f"the moto server did not answer within {START_TIMEOUT_SECONDS:.0f} s")
