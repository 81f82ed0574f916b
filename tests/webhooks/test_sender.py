"""One webhook attempt (`send_once`) against a real loopback receiver: what counts as success, what is refused
before any request (SSRF), the connect-time check, and what an error may say."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from engage.core.clock import ManualClock
from engage.webhooks.sender import MAX_RESPONSE_BYTES, USER_AGENT, send_once, webhook_client

from .receiver import Receiver, Reply

BODY = b'{"event_id":"e1","event_type":"dnc.added"}'
SECRET = "whsec_current"


@pytest.fixture
async def live() -> AsyncIterator[Receiver]:
    async with Receiver() as receiver:
        yield receiver


class TestSuccess:
    async def test_a_2xx_answer_is_success_and_the_request_carries_the_signed_exact_body(
        self, live: Receiver, clock: ManualClock
    ) -> None:
        result = await send_once(
            live.url("/ok"), BODY, [SECRET, "whsec_previous"], event_id="e1", allow_private=True, clock=clock
        )

        assert result.succeeded
        assert result.status_code == 200
        assert result.error is None
        [request] = live.requests_to("/ok")
        assert request.method == "POST"
        assert request.body == BODY
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"] == USER_AGENT
        assert request.headers["x-broadnet-event-id"] == "e1"
        assert request.headers["x-broadnet-timestamp"] == str(int(clock.now().timestamp()))
        current = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
        previous = "sha256=" + hmac.new(b"whsec_previous", BODY, hashlib.sha256).hexdigest()
        assert request.headers["x-broadnet-signature"] == f"{current},{previous}"
        assert SECRET not in str(request.headers)

    async def test_a_huge_response_body_is_cut_off_at_the_cap_and_does_not_fail_the_attempt(
        self, clock: ManualClock
    ) -> None:
        async with Receiver(lambda _r: Reply(body=b"x" * (16 * MAX_RESPONSE_BYTES))) as live:
            result = await send_once(live.url("/big"), BODY, [SECRET], event_id="e1", allow_private=True, clock=clock)

        assert result.succeeded


class TestFailure:
    async def test_a_5xx_answer_is_a_failure_with_its_status(self, clock: ManualClock) -> None:
        async with Receiver(lambda _r: Reply(status=503)) as live:
            result = await send_once(live.url("/h"), BODY, [SECRET], event_id="e1", allow_private=True, clock=clock)

        assert not result.succeeded
        assert result.status_code == 503
        assert result.error == "HTTP 503"

    async def test_a_redirect_is_not_followed_and_counts_as_a_failure(self, clock: ManualClock) -> None:
        async with Receiver(lambda r: Reply(status=307, headers={"Location": "/elsewhere"})) as live:
            result = await send_once(live.url("/h"), BODY, [SECRET], event_id="e1", allow_private=True, clock=clock)

            assert not result.succeeded
            assert result.status_code == 307
            assert live.requests_to("/elsewhere") == []

    async def test_a_receiver_slower_than_the_timeout_is_a_failure(self, clock: ManualClock) -> None:
        never = asyncio.Event()
        async with Receiver(lambda _r: Reply(hold=never)) as live:
            result = await send_once(
                live.url("/slow"), BODY, [SECRET], event_id="e1", allow_private=True, clock=clock, timeout_seconds=0.2
            )

        assert not result.succeeded
        assert result.status_code is None
        assert result.error == "timed out after 0.2 s"

    async def test_a_connection_error_is_reported_without_the_query_string(
        self, closed_port: int, clock: ManualClock
    ) -> None:
        url = f"http://127.0.0.1:{closed_port}/h?token=s3cr3t-query"

        result = await send_once(url, BODY, [SECRET], event_id="e1", allow_private=True, clock=clock)

        assert not result.succeeded
        assert result.error is not None
        assert "s3cr3t-query" not in result.error
        assert SECRET not in result.error


class TestTargetSafety:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:{port}/h",  # http, and loopback
            "https://127.0.0.1:{port}/h",  # loopback
            "https://localhost:{port}/h",  # a name that resolves to loopback
            "https://10.0.0.7/h",  # private
            "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
            "https://[::1]:{port}/h",  # IPv6 loopback
            "https://[::ffff:127.0.0.1]:{port}/h",  # IPv4-mapped loopback
        ],
    )
    async def test_private_targets_are_refused_without_a_request_unless_allowed(
        self, live: Receiver, clock: ManualClock, url: str
    ) -> None:
        result = await send_once(
            url.format(port=live.port), BODY, [SECRET], event_id="e1", allow_private=False, clock=clock
        )

        assert not result.succeeded
        assert result.status_code is None
        assert result.error is not None
        assert result.error.startswith("refused: ")
        assert live.requests == []

    async def test_the_client_checks_the_address_again_when_it_connects(self, live: Receiver) -> None:
        # No pre-check here: this is the transport's own check, the one that closes the DNS-rebinding window.
        async with webhook_client(allow_private=False) as client:
            with pytest.raises(httpx.ConnectError, match="non-public"):
                await client.post(live.url("/h"), content=BODY)

        assert live.requests == []

    async def test_a_shared_client_is_reused_across_attempts(self, live: Receiver, clock: ManualClock) -> None:
        async with webhook_client(allow_private=True) as client:
            for n in range(3):
                result = await send_once(
                    live.url("/shared"),
                    BODY,
                    [SECRET],
                    event_id=f"e{n}",
                    allow_private=True,
                    clock=clock,
                    client=client,
                )
                assert result.succeeded

        assert [r.headers["x-broadnet-event-id"] for r in live.requests_to("/shared")] == ["e0", "e1", "e2"]


class TestLogs:
    async def test_the_http_clients_request_log_omits_the_query_string(
        self, live: Receiver, clock: ManualClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="httpx")
        async with webhook_client(allow_private=True) as client:
            await send_once(
                live.url("/q?token=s3cr3t-query"),
                BODY,
                [SECRET],
                event_id="e1",
                allow_private=True,
                clock=clock,
                client=client,
            )

        assert "/q" in caplog.text
        assert "s3cr3t-query" not in caplog.text
