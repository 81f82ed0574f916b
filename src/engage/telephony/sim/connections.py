"""One client connection to the simulated switch (mod_event_socket, inbound mode) and the commands it sends
outside api/bgapi: auth, event, nixevent, noevents, filter, sendmsg, linger, nolinger, exit.

Invariants:
- Until authenticated, a connection gets "-ERR command not found" for anything but `auth`; a wrong password is
  answered "-ERR invalid" and the connection is hung up.
- Every write is a synchronous `transport.write` on the loop, so frames go out in the order they are produced;
  a command's reply always precedes the events it causes (the reply is written before any leg task starts).
"""

from __future__ import annotations

import asyncio
import hmac
import uuid
from dataclasses import dataclass, field

from engage.telephony.esl import codec

from .api import ApiCommands
from .channels import Channels
from .events import Subscription
from .protocol import DISCONNECT_TEXT, Command


@dataclass(eq=False)
class Connection:
    writer: asyncio.StreamWriter
    task: asyncio.Task[None] | None = None
    authed: bool = False
    closing: bool = False
    subscription: Subscription = field(default_factory=Subscription)

    def send(self, data: bytes) -> None:
        if not self.writer.transport.is_closing():
            self.writer.write(data)

    def reply(self, text: str, *extra: tuple[str, str]) -> None:
        self.send(codec.encode_frame([("Content-Type", codec.COMMAND_REPLY), ("Reply-Text", text), *extra]))

    def hang_up(self) -> None:
        """mod_event_socket's goodbye; the serving loop then closes the socket."""
        self.send(codec.encode_frame([("Content-Type", codec.DISCONNECT_NOTICE)], DISCONNECT_TEXT.encode()))
        self.closing = True


class ConnectionCommands:
    """Executes a connection's commands, handing api and bgapi to `ApiCommands`."""

    def __init__(self, *, password: str, api: ApiCommands, channels: Channels) -> None:
        self._password = password
        self._api = api
        self._channels = channels

    async def execute(self, connection: Connection, command: Command) -> None:
        verb, _, rest = command.line.partition(" ")
        verb = verb.lower()
        rest = rest.strip()
        if not connection.authed:
            # mod_event_socket answers anything but `auth` with "command not found" until authenticated.
            if verb != "auth":
                connection.reply("-ERR command not found")
            elif hmac.compare_digest(rest.encode(), self._password.encode()):
                connection.authed = True
                connection.reply("+OK accepted")
            else:
                connection.reply("-ERR invalid")
                connection.hang_up()
            return
        subscription = connection.subscription
        if verb == "api":
            body = await self._api.api(rest)
            connection.send(codec.encode_frame([("Content-Type", codec.API_RESPONSE)], body.encode()))
        elif verb == "bgapi":
            job_uuid = command.headers.get("Job-UUID") or str(uuid.uuid4())
            connection.reply(f"+OK Job-UUID: {job_uuid}", ("Job-UUID", job_uuid))
            self._api.background(job_uuid, rest)
        elif verb == "event":
            self._subscribe(connection, rest)
        elif verb == "nixevent":
            subscription.nix(rest.split())
            connection.reply("+OK events nixed")
        elif verb == "noevents":
            subscription.clear()
            connection.reply("+OK no longer listening for events")
        elif verb == "filter":
            self._filter(connection, rest)
        elif verb == "sendmsg":
            self._sendmsg(connection, rest, command.headers)
        elif verb == "linger":
            connection.reply("+OK will linger")
        elif verb == "nolinger":
            connection.reply("+OK will not linger")
        elif verb == "exit":
            connection.reply("+OK bye")
            connection.hang_up()
        else:
            connection.reply("-ERR command not found")

    @staticmethod
    def _subscribe(connection: Connection, text: str) -> None:
        words = text.split()
        fmt = words[0].lower() if words else ""
        if fmt not in ("plain", "json"):
            connection.reply("-ERR invalid format (the simulator speaks plain and json)")
            return
        connection.subscription.subscribe(fmt, words[1:])
        connection.reply(f"+OK event listener enabled {fmt}")

    @staticmethod
    def _filter(connection: Connection, text: str) -> None:
        deleting = text.split(" ", 1)[0].lower() == "delete"
        if deleting:
            text = text.split(" ", 1)[1] if " " in text else ""
        name, _, value = text.partition(" ")
        value = value.strip()
        subscription = connection.subscription
        if not name or (not value and not deleting):
            connection.reply("-ERR invalid syntax")
        elif deleting:
            subscription.filters = [f for f in subscription.filters if not (f[0] == name and value in ("", f[1]))]
            connection.reply(f"+OK filter deleted. [{name}]=[{value}]")
        else:
            subscription.filters.append((name, value))
            connection.reply(f"+OK filter added. [{name}]=[{value}]")

    def _sendmsg(self, connection: Connection, text: str, headers: codec.Headers) -> None:
        leg_uuid = text.strip() or headers.get("Unique-ID") or ""
        leg = self._channels.legs.get(leg_uuid)
        if leg is None:
            connection.reply(f"-ERR invalid session id [{leg_uuid}]")
            return
        if (headers.get("call-command") or "").lower() == "hangup":
            self._channels.kill(leg, headers.get("hangup-cause") or "NORMAL_CLEARING")
        connection.reply("+OK")
