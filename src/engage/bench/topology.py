"""The production topology as data, and a launcher that runs it as real processes on one machine.

`PRODUCTION` is the command block of docs/operations.md ("Running in production") as a structure: the settings
every process reads (`export NAME=VALUE`) and the commands in start order, each in the background (`&`, a
service) or run to completion (`engage migrate`). `parse_block` reads the same structure from the shell text, so
the topology test brings the system up from the document itself and checks it equals `PRODUCTION`, which
`engage bench soak` runs: neither can drift from the other. Placeholders (`$DATABASE_URL`) are filled by
`fill`, and a placeholder left without a value is an error, never an empty string.

`launch` starts the commands in order, as the shell would: a command that runs to completion must exit 0 before
the next starts, and services start one after the other without waiting, except that a worker waits until the
services of other kinds started before it are ready (it connects to the switch as it starts). `launch` returns
once every service is ready: an API when `/readyz` answers 200, a worker when its heartbeat row (with its pid) is
in `dialer_workers`, the simulator and the proxy when their port accepts a connection. Every process runs in a
process group of its own with its output in a log file; on leaving, whatever is still running gets SIGTERM, then
SIGKILL after a bounded wait. Every wait here is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import psutil

from engage.bench.common import free_port
from engage.core.db import asyncpg_url

# Start-up: imports (~3 s on an idle two-core machine; 40-50 s seen while other test runs loaded it), migrations
# checked, pools opened. Generous, but bounded.
STARTUP_SECONDS = 180.0
COMMAND_SECONDS = 120.0
STOP_SECONDS = 20.0
_POLL_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class Step:
    """One command line: `argv` as written (placeholders unfilled), and whether it runs in the background."""

    argv: tuple[str, ...]
    background: bool

    @property
    def kind(self) -> str:
        """`api`, `worker`, `sim`, `migrate` for `engage <kind>`; `proxy` for the proxy module."""
        if self.argv[0] == "engage":
            return self.argv[1]
        if self.argv[:3] == ("python", "-m", "engage.bench.proxy"):
            return "proxy"
        raise ValueError(f"unknown command {shlex.join(self.argv)!r}")


@dataclass(frozen=True, slots=True)
class Topology:
    environment: tuple[tuple[str, str], ...]
    steps: tuple[Step, ...]

    def names(self) -> list[str]:
        """A name per step: its kind, numbered when the kind repeats (`api-1`, `api-2`)."""
        kinds = [step.kind for step in self.steps]
        seen: dict[str, int] = {}
        names = []
        for kind in kinds:
            seen[kind] = seen.get(kind, 0) + 1
            names.append(f"{kind}-{seen[kind]}" if kinds.count(kind) > 1 else kind)
        return names


# docs/operations.md, "Running in production": the same block, as data (tests/hardening/topology checks they agree).
PRODUCTION = Topology(
    environment=(
        ("ENGAGE_DATABASE_URL", "$DATABASE_URL"),
        ("ENGAGE_REDIS_URL", "$REDIS_URL"),
        ("ENGAGE_JWT_SECRET", "$JWT_SECRET"),
        ("ENGAGE_PUBLIC_URL", "$PUBLIC_URL"),
        ("ENGAGE_DATA_DIR", "$DATA_DIR"),
        ("ENGAGE_TELEPHONY", "esl"),
        ("ENGAGE_ESL_HOST", "$ESL_HOST"),
        ("ENGAGE_ESL_PORT", "$ESL_PORT"),
        ("ENGAGE_ESL_PASSWORD", "$ESL_PASSWORD"),
    ),
    steps=(
        Step(("engage", "migrate"), background=False),
        Step(("engage", "sim", "--host", "$ESL_HOST", "--port", "$ESL_PORT"), background=True),
        Step(("engage", "api", "--host", "$API_HOST", "--port", "$API_PORT_1"), background=True),
        Step(("engage", "api", "--host", "$API_HOST", "--port", "$API_PORT_2"), background=True),
        Step(("engage", "worker"), background=True),
        Step(("engage", "worker"), background=True),
        Step(
            (
                "python",
                "-m",
                "engage.bench.proxy",
                "--listen",
                "$PROXY_HOST:$PROXY_PORT",
                "--upstream",
                "$API_HOST:$API_PORT_1",
                "--upstream",
                "$API_HOST:$API_PORT_2",
            ),
            background=True,
        ),
    ),
)

_EXPORT = re.compile(r"([A-Z_][A-Z0-9_]*)=(.*)", re.DOTALL)
_PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}|\$([A-Z_][A-Z0-9_]*)")


def parse_block(text: str) -> Topology:
    """The topology a shell block states: `export NAME=VALUE` lines and command lines, `&` for a background
    command; comments, blank lines and `\\` line continuations as the shell reads them. Anything else (a pipe,
    `&&`, a redirection) is refused: the block must stay something this parser and a person both read the same."""
    environment: list[tuple[str, str]] = []
    steps: list[Step] = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] == "export":
            if len(words) != 2 or not (match := _EXPORT.fullmatch(words[1])):
                raise ValueError(f"expected `export NAME=VALUE`: {line.strip()!r}")
            environment.append((match[1], match[2]))
            continue
        background = words[-1] == "&"
        argv = tuple(words[:-1] if background else words)
        if any(word in {"&", "&&", "|", "||", ";", ">", "<", ">>"} for word in argv):
            raise ValueError(f"only plain commands are understood: {line.strip()!r}")
        steps.append(Step(argv, background))
    return Topology(tuple(environment), tuple(steps))


def block_in_document(markdown: str, section: str = "Running in production") -> str:
    """The first ```sh block under the `## <section>` heading of a Markdown document."""
    lines = markdown.splitlines()
    try:
        start = lines.index(f"## {section}")
    except ValueError as exc:
        raise LookupError(f"no section {section!r}") from exc
    block: list[str] | None = None
    for line in lines[start + 1 :]:
        if block is None:
            if line.startswith("## "):
                break
            if line.strip() == "```sh":
                block = []
        elif line.strip() == "```":
            return "\n".join(block) + "\n"
        else:
            block.append(line)
    raise LookupError(f"no complete ```sh block in section {section!r}")


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with each `$NAME` / `${NAME}` replaced by its value; a name without one is an error."""

    def value(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name not in values:
            raise KeyError(f"no value for the placeholder ${name}")
        return values[name]

    return _PLACEHOLDER.sub(value, text)


def executable(program: str) -> str:
    """`engage` is the console script installed beside this interpreter (what a user types after installing);
    `python`, this interpreter."""
    if program == "python":
        return sys.executable
    if program == "engage":
        beside = Path(sys.executable).with_name("engage")
        found = str(beside) if beside.exists() else shutil.which("engage")
        if found is None:
            raise FileNotFoundError("the `engage` command is not installed beside this Python")
        return found
    raise ValueError(f"unknown program {program!r}")


def free_port_values(*names: str) -> dict[str, str]:
    """A free loopback port for each placeholder in `names` (`ESL_PORT`, `API_PORT_1`, ...)."""
    return {name: str(free_port()) for name in names}


def clean_environment() -> dict[str, str]:
    """This process's environment without ENGAGE_*: only what the topology states reaches its processes."""
    return {key: value for key, value in os.environ.items() if not key.startswith("ENGAGE_")}


@dataclass
class Launched:
    name: str
    step: Step
    argv: tuple[str, ...]  # filled
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def output(self, characters: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-characters:]

    def option(self, name: str) -> str:
        """The value after `name` on the (filled) command line."""
        return self.argv[self.argv.index(name) + 1]


@dataclass
class Running:
    """The launched topology: its processes by name (`api-1`, `worker-2`, `proxy`) and the environment they share."""

    environment: dict[str, str]
    processes: dict[str, Launched] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Launched:
        return self.processes[name]

    def of_kind(self, kind: str) -> list[Launched]:
        return [launched for launched in self.processes.values() if launched.step.kind == kind]

    def services(self) -> list[Launched]:
        return [launched for launched in self.processes.values() if launched.step.background]

    async def kill(self, name: str) -> None:
        """SIGKILL to the process group, as a crash or the OOM killer would: nothing is handed back."""
        launched = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launched.pid, signal.SIGKILL)
        await asyncio.wait_for(launched.process.wait(), STOP_SECONDS)

    async def stop(self) -> dict[str, int | None]:
        """SIGTERM to every service still running, kind by kind in reverse start order (the proxy, the workers, the
        APIs, the switch) and the processes of one kind at once; SIGKILL to any that overstays. The exit status of
        each (None: it had to be killed)."""
        statuses: dict[str, int | None] = {}
        kinds = list(dict.fromkeys(launched.step.kind for launched in reversed(self.services())))
        for kind in kinds:
            stopping = [launched for launched in self.services() if launched.step.kind == kind]
            for launched, status in zip(stopping, await asyncio.gather(*map(_terminate, stopping)), strict=True):
                statuses[launched.name] = status
        return statuses


async def _terminate(launched: Launched) -> int | None:
    if launched.running:
        launched.process.send_signal(signal.SIGTERM)
    try:
        status: int | None = await asyncio.wait_for(launched.process.wait(), STOP_SECONDS)
    except TimeoutError:
        status = None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(launched.pid, signal.SIGKILL)  # and whatever it started, which could outlive it
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(launched.process.wait(), STOP_SECONDS)
    return status


class LaunchFailed(RuntimeError):
    pass


@asynccontextmanager
async def launch(
    topology: Topology,
    values: Mapping[str, str],
    *,
    logs: Path,
    extra_environment: Mapping[str, str] | None = None,
) -> AsyncIterator[Running]:
    """Run `topology` with its placeholders filled from `values` (and `extra_environment` on top of its own
    settings, such as a test's simulator behaviour); yields once every service is ready."""
    environment = {
        **clean_environment(),
        **{name: fill(value, values) for name, value in topology.environment},
        **(extra_environment or {}),
    }
    cwd = environment.get("ENGAGE_DATA_DIR", str(logs))
    for folder in (logs, Path(cwd)):
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    running = Running(environment)
    starting: list[Launched] = []  # services started, not yet seen ready
    try:
        for name, step in zip(topology.names(), topology.steps, strict=True):
            # A command run to completion goes once everything before it is ready, as in the shell; a worker once
            # every other service is (it connects to the switch as it starts, and gives up if it cannot).
            waited = [s for s in starting if not step.background or s.step.kind != step.kind]
            if step.kind == "worker" or not step.background:
                await asyncio.gather(*(_ready(launched, environment) for launched in waited))
                starting = [s for s in starting if s not in waited]
            argv = tuple(fill(word, values) for word in step.argv)
            log = logs / f"{name}.log"
            with log.open("wb") as out:
                process = await asyncio.create_subprocess_exec(
                    executable(argv[0]), *argv[1:], env=environment, cwd=cwd, stdout=out, stderr=out,
                    start_new_session=True,
                )  # fmt: skip
            launched = Launched(name, step, argv, process, log)
            running.processes[name] = launched
            if step.background:
                starting.append(launched)
            else:
                await _ready(launched, environment)
        await asyncio.gather(*(_ready(launched, environment) for launched in starting))
        yield running
    finally:
        await running.stop()


async def _ready(launched: Launched, environment: Mapping[str, str]) -> None:
    if not launched.step.background:
        try:
            status = await asyncio.wait_for(launched.process.wait(), COMMAND_SECONDS)
        except TimeoutError as exc:
            await _terminate(launched)
            raise LaunchFailed(f"{launched.name} did not finish in {COMMAND_SECONDS} s\n{launched.output()}") from exc
        if status != 0:
            raise LaunchFailed(f"{launched.name} exited with {status}\n{launched.output()}")
        return
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if not launched.running:
            raise LaunchFailed(f"{launched.name} exited with {launched.process.returncode}\n{launched.output()}")
        if await _answers(launched, environment):
            return
        await asyncio.sleep(_POLL_SECONDS)
    raise LaunchFailed(f"{launched.name} was not ready within {STARTUP_SECONDS} s\n{launched.output()}")


async def _answers(launched: Launched, environment: Mapping[str, str]) -> bool:
    kind = launched.step.kind
    if kind == "api":
        url = f"http://{launched.option('--host')}:{launched.option('--port')}/readyz"
        async with httpx.AsyncClient(timeout=2.0) as client:
            try:
                return (await client.get(url)).status_code == 200
            except httpx.TransportError:
                return False
    if kind == "worker":
        return await worker_heartbeat(environment["ENGAGE_DATABASE_URL"], launched.pid)
    if kind == "sim":
        return await _accepts(launched.option("--host"), int(launched.option("--port")))
    if kind == "proxy":
        host, _, port = launched.option("--listen").rpartition(":")
        return await _accepts(host, int(port))
    raise ValueError(f"no readiness check for {kind}")


async def _accepts(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def owner_dsn(database_url: str) -> str:
    """The database URL as asyncpg takes it (the owner's connection: it sees every tenant)."""
    return asyncpg_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def worker_heartbeat(database_url: str, pid: int) -> bool:
    """Whether a worker with this pid has written its heartbeat (it is connected and pacing)."""
    try:
        connection = await asyncpg.connect(owner_dsn(database_url), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return False
    try:
        return bool(await connection.fetchval("SELECT count(*) FROM dialer_workers WHERE pid = $1", pid))
    finally:
        await connection.close()


@dataclass(frozen=True, slots=True)
class Sample:
    """What the operating system says about one process (and its children) at one moment."""

    rss_bytes: int
    open_files: int
    cpu_seconds: float  # user + system since it started


def sample(pid: int) -> Sample | None:
    """RSS, open file descriptors and CPU time of a process and its descendants; None once it is gone."""
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
        rss = fds = 0
        cpu = 0.0
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                rss += process.memory_info().rss
                fds += process.num_fds()
                times = process.cpu_times()
                cpu += times.user + times.system
    except psutil.NoSuchProcess:
        return None
    return Sample(rss, fds, cpu)
