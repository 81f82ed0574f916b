"""The `api` and `bgapi` commands a dialer sends the simulated switch (originate, uuid_exists, uuid_kill,
uuid_bridge, uuid_transfer, uuid_record, show channels|registrations, status, hostname, version, and the
simulator's own sim_register/sim_unregister), and the switch status that `api status` and HEARTBEAT report.

Invariants: an api command answers with FreeSWITCH's reply text; a bgapi answers its BACKGROUND_JOB with the
same text. A bgapi originate needs no task of its own (the leg's task emits the job's event once the leg answers
or fails); any other bgapi runs on one task while it lasts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from .channels import Channels
from .events import EventBus
from .legs import SHOW_CHANNELS_COLUMNS, OriginateError, show_channels_row
from .protocol import HOSTNAME, MAX_SESSIONS, VERSION, duration_text
from .registrations import Registrations


class ApiCommands:
    def __init__(
        self,
        *,
        bus: EventBus,
        channels: Channels,
        registrations: Registrations,
        uptime_seconds: Callable[[], float],
    ) -> None:
        self._bus = bus
        self._channels = channels
        self._registrations = registrations
        self._uptime_seconds = uptime_seconds
        self.tasks: set[asyncio.Task[None]] = set()

    def background(self, job_uuid: str, text: str) -> None:
        name, _, argument = text.partition(" ")
        argument = argument.strip()
        if name == "originate":
            try:
                self._channels.originate(argument, job=(job_uuid, argument))
            except OriginateError as exc:
                self._bus.emit_background_job(job_uuid, name, argument, str(exc))
            return

        async def run() -> None:
            self._bus.emit_background_job(job_uuid, name, argument, await self.api(text))

        task = asyncio.create_task(run(), name=f"sim-bgapi-{job_uuid}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def api(self, text: str) -> str:
        name, _, argument = text.strip().partition(" ")
        argument = argument.strip()
        args = argument.split()
        channels = self._channels
        if name == "originate":
            try:
                leg = channels.originate(argument, job=None)
            except OriginateError as exc:
                return str(exc)
            return await leg.result
        if name == "status":
            return self._status()
        if name == "uuid_exists":
            return "true" if args and args[0] in channels.legs else "false"
        if name == "uuid_kill":
            target = channels.legs.get(args[0]) if args else None
            if target is None:
                return "-ERR No such channel!\n"
            channels.kill(target, args[1] if len(args) > 1 else "NORMAL_CLEARING")
            return "+OK\n"
        if name == "uuid_bridge":
            return channels.bridge(args)
        if name == "uuid_transfer":
            return channels.transfer(argument)
        if name in ("sim_register", "sim_unregister"):
            if len(args) != 1:
                return f"-USAGE: {name} <sip_user>\n"
            if name == "sim_register":
                self._registrations.register(args[0])
            else:
                self._registrations.unregister(args[0])
            return "+OK\n"
        if name == "uuid_record":
            return await channels.record(args)
        if name == "show":
            return self._show(args)
        if name == "hostname":
            return HOSTNAME
        if name == "version":
            return f"FreeSWITCH Version {VERSION} (1.10.3-release git e52b1a8 2020-09-09 12:16:24Z 64bit)\n"
        return f"-ERR {name} Command not found!\n"

    def _status(self) -> str:
        uptime = self._uptime_seconds()
        channels = self._channels
        return (
            f"UP {duration_text(uptime)}\n"
            f"FreeSWITCH (Version {VERSION}) is ready\n"
            f"{channels.sessions_since_startup} session(s) since startup\n"
            f"{len(channels.legs)} session(s) - peak {channels.peak_sessions}, last 5min {channels.peak_sessions}\n"
            f"0 session(s) per Sec out of max 30, peak 0, last 5min 0\n"
            f"{MAX_SESSIONS} session(s) max\n"
            "min idle cpu 0.00/99.00\n"
            "Current Stack Size/Max 240K/8192K\n"
        )

    def heartbeat_headers(self) -> list[tuple[str, str]]:
        """The body of a HEARTBEAT event: the same figures as `status`."""
        uptime = self._uptime_seconds()
        channels = self._channels
        return [
            ("Event-Info", "System Ready"),
            ("Up-Time", duration_text(uptime)),
            ("FreeSWITCH-Version", VERSION.split(" ", 1)[0]),
            ("Uptime-msec", str(int(uptime * 1000))),
            ("Session-Count", str(len(channels.legs))),
            ("Max-Sessions", str(MAX_SESSIONS)),
            ("Session-Per-Sec", "30"),
            ("Session-Per-Sec-Last", "0"),
            ("Session-Per-Sec-Max", "0"),
            ("Session-Per-Sec-FiveMin", "0"),
            ("Session-Since-Startup", str(channels.sessions_since_startup)),
            ("Session-Peak-Max", str(channels.peak_sessions)),
            ("Session-Peak-FiveMin", str(channels.peak_sessions)),
            ("Idle-CPU", "99.000000"),
        ]

    def _show(self, args: Sequence[str]) -> str:
        what = args[0].lower() if args else ""
        legs = self._channels.legs
        if what == "channels":
            if len(args) > 1 and args[1].lower() == "count":
                return f"\n{len(legs)} total.\n"
            rows = [
                show_channels_row(
                    leg,
                    created_local=datetime.fromtimestamp(leg.created_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    hostname=HOSTNAME,
                    state="CS_EXECUTE" if leg.answered else "CS_CONSUME_MEDIA",
                )
                for leg in legs.values()
            ]
            return _table(SHOW_CHANNELS_COLUMNS, rows)
        if what == "registrations":
            return _table(*self._registrations.show_rows())
        return "-USAGE: calls|channels [count]|registrations\n"


def _table(columns: str, rows: Sequence[str]) -> str:
    """FreeSWITCH's `show` layout: the column line only when there are rows, a blank line, `N total.`."""
    if not rows:
        return "\n0 total.\n"
    return columns + "\n" + "".join(f"{row}\n" for row in rows) + f"\n{len(rows)} total.\n"
