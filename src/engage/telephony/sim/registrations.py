"""SIP registrations of agents' phones on the simulated switch: who is registered, the sofia::register and
sofia::unregister events a change raises, and the `show registrations` rows.

The simulator models a registration's existence, not its refreshes: registering a registered user, or
unregistering one that is not, changes nothing and raises no event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from .events import EventBus
from .protocol import HOSTNAME, IPV4, SIP_DOMAIN, now_us

REGISTRATION_EXPIRES_SECONDS = 3600
_REGISTRATION_COLUMNS = "reg_user,realm,token,url,expires,network_ip,network_port,network_proto,hostname,metadata"


@dataclass(slots=True)
class Registration:
    call_id: str
    network_port: int
    registered_us: int


class Registrations:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._by_user: dict[str, Registration] = {}

    def __contains__(self, sip_user: object) -> bool:
        return sip_user in self._by_user

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_user)

    def register(self, sip_user: str) -> None:
        if sip_user in self._by_user:
            return
        port = 5062 + len(self._by_user)
        registration = Registration(f"{uuid.uuid4()}@{IPV4}", port, now_us())
        self._by_user[sip_user] = registration
        self._emit("sofia::register", sip_user, registration)

    def unregister(self, sip_user: str) -> None:
        registration = self._by_user.pop(sip_user, None)
        if registration is not None:
            self._emit("sofia::unregister", sip_user, registration)

    def show_rows(self) -> tuple[str, list[str]]:
        """`show registrations`: its column line and one row per registered user."""
        rows = [
            f"{user},{SIP_DOMAIN},{r.call_id},sofia/internal/sip:{user}@{IPV4}:{r.network_port},"
            f"{r.registered_us // 1_000_000 + REGISTRATION_EXPIRES_SECONDS},{IPV4},{r.network_port},udp,"
            f"{HOSTNAME},"
            for user, r in self._by_user.items()
        ]
        return _REGISTRATION_COLUMNS, rows

    def _emit(self, subclass: str, sip_user: str, registration: Registration) -> None:
        contact = f'"{sip_user}" <sip:{sip_user}@{IPV4}:{registration.network_port}>'
        headers = [
            ("profile-name", "internal"),
            ("from-user", sip_user),
            ("from-host", SIP_DOMAIN),
            ("presence-hosts", SIP_DOMAIN),
            ("contact", contact),
            ("call-id", registration.call_id),
            ("rpid", "unknown"),
            ("status", "Registered(UDP)" if subclass == "sofia::register" else "Unregistered"),
            ("expires", str(REGISTRATION_EXPIRES_SECONDS) if subclass == "sofia::register" else "0"),
            ("to-user", sip_user),
            ("to-host", SIP_DOMAIN),
            ("network-ip", IPV4),
            ("network-port", str(registration.network_port)),
            ("username", sip_user),
            ("realm", SIP_DOMAIN),
            ("user-agent", "Engage-Sim-Phone/1.0"),
        ]
        self._bus.emit("CUSTOM", headers, subclass=subclass)
