"""`SimPhones`: agents' SIP phones for the simulator, registered over ESL with its `sim_register` and
`sim_unregister` api commands (see `sim.server`), so a dialer in another process than the simulator can keep
"an agent's SIP user counts as registered while the agent is not offline" (DESIGN.md §2) true.

FreeSWITCH has no such commands (real phones register themselves over SIP): this is wired only when telephony is
sim. A SIP user is validated before anything is sent, by the rule the ESL adapter dials agents with."""

from __future__ import annotations

import structlog

from engage.telephony.esl.client import EslClient, EslError
from engage.telephony.esl.switch import SIP_USER, InvalidSwitchCommand
from engage.telephony.port import SwitchError

log = structlog.get_logger("engage.sim")


class SimPhones:
    """`Phones` over an ESL client connected to the switch simulator (the client is the caller's to close)."""

    def __init__(self, client: EslClient) -> None:
        self._client = client

    async def register(self, sip_user: str) -> None:
        await self._send("sim_register", sip_user)

    async def unregister(self, sip_user: str) -> None:
        await self._send("sim_unregister", sip_user)

    async def _send(self, command: str, sip_user: str) -> None:
        if not SIP_USER.fullmatch(sip_user):
            raise InvalidSwitchCommand("not a SIP user name")
        try:
            reply = (await self._client.api(f"{command} {sip_user}")).strip()
        except EslError as exc:
            raise SwitchError(f"{command}: {exc}") from exc
        if not reply.startswith("+OK"):
            # e.g. `-USAGE: …`, which `api` does not treat as an error.
            raise SwitchError(f"{command}: {reply}")
        log.debug("sim.phone_changed", command=command, sip_user=sip_user)
