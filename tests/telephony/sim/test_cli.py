"""`engage sim` as a real process: it listens, speaks ESL, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from engage.telephony.esl import codec
from tests.cli.processes import ENGAGE, STOP_TIMEOUT_SECONDS, clean_environment, free_port, run_engage

from .esl_peer import EslPeer

STARTUP_TIMEOUT_SECONDS = 60.0


async def connect_when_listening(port: int, process: asyncio.subprocess.Process) -> EslPeer:
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        assert process.returncode is None, "engage sim exited early"
        try:
            return await EslPeer.connect(port)
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"engage sim did not listen within {STARTUP_TIMEOUT_SECONDS} s")


async def test_engage_sim_accepts_an_esl_client_and_stops_on_sigterm(tmp_path: Path):
    port = free_port()
    env = {**clean_environment(), "ENGAGE_ESL_PASSWORD": "cli-secret", "ENGAGE_LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(
        str(ENGAGE),
        "sim",
        "--port",
        str(port),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        peer = await connect_when_listening(port, process)
        try:
            assert (await peer.take(lambda f: True)).content_type == codec.AUTH_REQUEST
            assert await peer.command("auth cli-secret") == "+OK accepted"
            assert await peer.api("uuid_exists nobody") == "false"
        finally:
            await peer.close()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), STOP_TIMEOUT_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert json.loads(stdout) == {"esl": {"host": "127.0.0.1", "port": port}}


async def test_engage_sim_refuses_to_start_without_a_password(tmp_path: Path):
    env = {**clean_environment(), "ENGAGE_DATA_DIR": str(tmp_path)}
    result = await run_engage("sim", "--port", "0", env=env, limit_seconds=STARTUP_TIMEOUT_SECONDS)
    assert result.returncode == 2
    assert "ENGAGE_ESL_PASSWORD" in result.problem()["detail"]
