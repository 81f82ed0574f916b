"""The composition root: builds the runtime from settings and the FastAPI application around it.

`start_runtime` owns start-up and shutdown order: embedded PostgreSQL (when no URL is configured),
migrations, the engine, the rate-limit counter; and the reverse on the way out, stopping the embedded
server explicitly.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import structlog
from fastapi import FastAPI
from prometheus_client import start_http_server
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage import __version__
from engage.agents.api import router as agents_router
from engage.auth.api import router as auth_router
from engage.auth.service import Authenticator
from engage.calls.api import router as calls_router
from engage.campaigns.api import router as campaigns_router
from engage.cli_groups.api import router as cli_groups_router
from engage.compliance.api import router as compliance_router
from engage.compliance.engine import Engine
from engage.config import Settings, require_secure_jwt
from engage.consents.api import router as consents_router
from engage.console import api as console_api
from engage.contacts.api import router as contacts_router
from engage.core.clock import Clock, ShiftedClock, SystemClock
from engage.core.db import create_database_if_missing, create_engine, session_factory, with_database
from engage.core.embedded_pg import EmbeddedPostgres
from engage.core.errors import install_problem_handlers
from engage.core.http import RequestContextMiddleware
from engage.core.openapi import install_openapi, operation_id
from engage.core.ratelimit import create_counter
from engage.core.runtime import Runtime
from engage.core.security import TokenCodec
from engage.dialer.api import router as dialer_router
from engage.dialer.diagnostics_api import router as diagnostics_router
from engage.dialer.forecast_api import router as forecast_router
from engage.dialer.worker import Worker, WorkerConfig
from engage.dnc.api import router as dnc_router
from engage.events.api import router as events_router
from engage.events.hub import EventHub
from engage.events.tokens import StreamTokens
from engage.migrate import migrate
from engage.ops.api import router as ops_router
from engage.recordings.api import router as recordings_router
from engage.recordings.uploader import Uploader, UploaderConfig
from engage.registry.api import router as registry_router
from engage.reports.api import router as reports_router
from engage.storage import open_store
from engage.storage.api import router as storage_router
from engage.telephony.connect import Telephony, drain, open_telephony
from engage.tenancy.service import RateLimitCache
from engage.users.api import router as users_router
from engage.users.standing import StandingCache
from engage.webhooks.api import router as webhooks_router
from engage.webhooks.dispatcher import Dispatcher
from engage.webhooks.retention import OutboxRetention, RetentionConfig

log = structlog.get_logger("engage.main")

EMBEDDED_DATABASE = "engage"

# The OpenAPI document's sections (operation tags), in the order /docs shows them.
_SECTIONS = (
    "operations", "auth", "users", "cli_groups", "campaigns", "contacts", "agents", "calls", "dnc", "compliance",
    "consents", "recordings", "reports", "webhooks", "events",
)  # fmt: skip


def clock_for(settings: Settings) -> Clock:
    return ShiftedClock(settings.sim.clock_start) if settings.sim.clock_start is not None else SystemClock()


@asynccontextmanager
async def database_url(settings: Settings, *, stop_embedded: bool) -> AsyncIterator[str]:
    """The configured database URL, or the embedded server's (started or re-attached for the duration).

    `stop_embedded`: stop the embedded server on exit even when this process only re-attached to it
    (`engage serve` does; one-shot commands leave a running server alone).
    """
    if settings.database.url is not None:
        yield settings.database.url
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    server_url = await asyncio.to_thread(embedded.start)
    try:
        await create_database_if_missing(server_url, EMBEDDED_DATABASE)
        yield with_database(server_url, EMBEDDED_DATABASE)
    finally:
        if stop_embedded or not embedded.attached:
            await asyncio.to_thread(embedded.stop)


@asynccontextmanager
async def open_sessions(
    settings: Settings, *, apply_migrations: bool = True, stop_embedded: bool = False
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the (migrated) database without the serving machinery: for one-shot commands,
    which need neither a JWT secret nor a rate limiter."""
    async with database_url(settings, stop_embedded=stop_embedded) as url:
        if apply_migrations:
            await migrate(url)
        engine = create_engine(url, pool_size=2, statement_timeout_ms=settings.database.statement_timeout_ms)
        try:
            yield session_factory(engine)
        finally:
            await engine.dispose()


@asynccontextmanager
async def start_runtime(
    settings: Settings, *, apply_migrations: bool = True, stop_embedded: bool = True
) -> AsyncIterator[Runtime]:
    settings = require_secure_jwt(settings)
    jwt_secret = settings.jwt.secret
    if jwt_secret is None:
        raise RuntimeError("require_secure_jwt returned settings without a JWT secret (it must fill one or raise)")
    async with database_url(settings, stop_embedded=stop_embedded) as url:
        if apply_migrations:
            await migrate(url)
        engine = create_engine(
            url, pool_size=settings.database.pool_size, statement_timeout_ms=settings.database.statement_timeout_ms
        )
        sessions = session_factory(engine)
        counter = create_counter(settings.redis.url)
        runtime = Runtime(
            settings=settings,
            engine=engine,
            sessions=sessions,
            counter=counter,
            tokens=TokenCodec(jwt_secret.get_secret_value(), settings.jwt.algorithm, settings.jwt.access_ttl_seconds),
            clock=clock_for(settings),
            tenant_rate_limit=RateLimitCache(sessions, default_per_minute=settings.rate.default_per_minute),
            access=StandingCache(sessions),
            database_url=url,
        )
        try:
            yield runtime
        finally:
            await counter.close()
            await engine.dispose()


def create_app(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    on_ready: Callable[[Runtime], Awaitable[None]] | None = None,
    with_switch: bool = False,
    exiting: Callable[[], bool] | None = None,
) -> FastAPI:
    """The API. With `runtime` given (tests, benchmarks) it is used as is; otherwise the lifespan starts one
    from `settings` and calls `on_ready` (the demo seeding) before serving. `with_switch` (`engage serve`, not
    `engage api`): the lifespan also opens the switch (the simulator in-process when `telephony=sim`) and runs
    the webhook dispatcher. Either way the lifespan runs the live events' hub; `exiting` (the server's "shutting
    down" flag) lets it end open event streams, which would otherwise hold the server's graceful shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            async with app.state.event_hub:
                yield
            return
        async with start_runtime(settings) as started, AsyncExitStack() as stack:
            _bind(app, started)
            _bind_events(app, started, exiting)
            stack.push_async_callback(app.state.store.close)
            await stack.enter_async_context(app.state.event_hub)
            if with_switch:
                telephony = await stack.enter_async_context(open_telephony(settings, started.clock))
                app.state.switch = telephony.switch
                app.state.worker = await start_background(
                    stack, settings, started.sessions, started.clock, telephony, dial=settings.dialer.in_process
                )
            if on_ready is not None:
                await on_ready(started)
            # What start-up built (modules, phone-number metadata, compiled schemas and statements) lives as long as
            # the process: frozen, the collector's full passes stop walking it, which showed as 100 ms stalls in
            # the p99 of `engage bench api`.
            gc.freeze()
            log.info("engage.ready", telephony=settings.telephony.value if with_switch else None)
            yield

    app = FastAPI(
        title="BroadNet Engage API",
        version=__version__,
        description="Carrier-grade outbound voice dialer API: campaigns, live call control, compliance, reporting.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        openapi_tags=[{"name": name} for name in _SECTIONS],
    )
    install_problem_handlers(app)
    install_openapi(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.api.max_body_bytes)
    # Routers are matched in the order they are included, each route's pattern tried in turn (and the chosen
    # router's again to dispatch): the routes a floor polls come first, so a wallboard's or an agent's request is
    # matched in a handful of tries rather than forty (`engage bench api`). No two routers' paths overlap, so the
    # order changes nothing else; the document's sections keep their order through `_SECTIONS`.
    for router in (
        calls_router,
        agents_router,
        compliance_router,
        campaigns_router,
        contacts_router,
        ops_router,
        auth_router,
        users_router,
        cli_groups_router,
        dnc_router,
        registry_router,
        consents_router,
        webhooks_router,
        recordings_router,
        reports_router,
        events_router,
        dialer_router,
        diagnostics_router,
        forecast_router,
        storage_router,
    ):
        app.include_router(router)
    app.include_router(console_api.build_router(_media_origins(settings)))
    app.mount("/console/static", console_api.static_files(), name="console-static")
    if runtime is not None:
        _bind(app, runtime)
        _bind_events(app, runtime, exiting)
    return app


def _media_origins(settings: Settings) -> list[str]:
    """Where the console's audio player fetches recordings from: Engage's own public URL for the local store;
    the store's public (else configured) endpoint for S3, or AWS's S3 hosts when none is configured."""
    if settings.storage.url is None:
        return [console_api.origin(settings.public_url)]
    endpoint = settings.s3.public_endpoint or settings.s3.endpoint
    return [console_api.origin(endpoint)] if endpoint else ["https://*.amazonaws.com"]


async def start_background(
    stack: AsyncExitStack,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    telephony: Telephony,
    *,
    dial: bool = True,
) -> Worker | None:
    """The background loops of `engage serve` and `engage worker`: the dialer worker (the switch's one event
    consumer), the recording uploader and the webhook dispatcher, each stopped gracefully when `stack` closes (the
    worker hands its leases back). Without `dial` the switch's events are only drained."""
    # The uploader stores what the switch recorded; the worker wakes it as each recording ends.
    store = open_store(settings, signing_secret=None, clock=clock)
    stack.push_async_callback(store.close)
    uploader = Uploader(
        sessions, store, clock, UploaderConfig(recordings_dir=(settings.data_dir / "recordings").resolve())
    )
    worker: Worker | None = None
    if dial:
        worker = Worker(
            sessions=sessions,
            switch=telephony.switch,
            clock=clock,
            engine=compliance_engine(settings, clock),
            config=WorkerConfig.from_settings(settings.dialer, settings.data_dir),
            phones=telephony.phones,
            recording_due=uploader.wake,
        )
        stop_dialling = asyncio.Event()
        dialling = asyncio.create_task(worker.run(stop_dialling), name="dialer-worker")
        stack.push_async_callback(_stop, stop_dialling, dialling)
    else:
        draining = asyncio.create_task(drain(telephony.switch), name="switch-drain")
        stack.push_async_callback(_cancel, draining)
    stop_uploading = asyncio.Event()
    uploading = asyncio.create_task(uploader.run(stop_uploading), name="recording-uploader")
    stack.push_async_callback(_stop, stop_uploading, uploading)
    dispatcher = await stack.enter_async_context(
        Dispatcher(sessions, clock, allow_private=settings.webhook.allow_private_targets)
    )
    stop_dispatching = asyncio.Event()
    dispatching = asyncio.create_task(dispatcher.run(stop_dispatching), name="webhook-dispatcher")
    stack.push_async_callback(_stop, stop_dispatching, dispatching)
    retention = OutboxRetention(sessions, clock, RetentionConfig(retention_days=settings.events.retention_days))
    stop_purging = asyncio.Event()
    purging = asyncio.create_task(retention.run(stop_purging), name="outbox-retention")
    stack.push_async_callback(_stop, stop_purging, purging)
    return worker


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """`engage worker`: migrations, the switch, the dialer worker, the recording uploader and the webhook
    dispatcher, until `stop`."""
    async with database_url(settings, stop_embedded=False) as url:
        await migrate(url)
        engine = create_engine(
            url, pool_size=settings.database.pool_size, statement_timeout_ms=settings.database.statement_timeout_ms
        )
        try:
            clock = clock_for(settings)
            async with AsyncExitStack() as stack:
                _serve_worker_metrics(stack, settings)
                telephony = await stack.enter_async_context(open_telephony(settings, clock))
                await start_background(stack, settings, session_factory(engine), clock, telephony)
                log.info("engage.worker_ready", telephony=settings.telephony.value)
                await stop.wait()
        finally:
            await engine.dispose()


def _serve_worker_metrics(stack: AsyncExitStack, settings: Settings) -> None:
    """`engage worker` serves no API, so its dialer, compliance, webhook and recording metrics get a port of their
    own when ENGAGE_METRICS_PORT is set (prometheus_client's server, on a thread; stopped with the worker)."""
    port = settings.metrics.port
    if port is None:
        return
    server, thread = start_http_server(port, addr=settings.metrics.host)
    log.info("engage.worker_metrics", host=settings.metrics.host, port=port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    stack.callback(stop)


async def _stop(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    """Ask a loop to finish what it has in flight; cancel it if it has not within a few seconds."""
    stop.set()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=5)
    except TimeoutError:
        await _cancel(task)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def compliance_engine(settings: Settings, clock: Clock) -> Engine:
    """The one compliance engine of a process role (the API's, the dialer worker's): the rule book is parsed once."""
    return Engine(clock=clock, budget_seconds=settings.compliance.budget_ms / 1000)


def _bind_events(app: FastAPI, runtime: Runtime, exiting: Callable[[], bool] | None) -> None:
    """The live events' hub (started and stopped by the lifespan, in `engage serve` and `engage api` alike, never
    in `engage worker`) and the stream-token codec."""
    events = runtime.settings.events
    # The hub's LISTEN connection is its own, on the app's database and role (`events.repository.listen`).
    listen_dsn = runtime.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    app.state.event_hub = EventHub(
        runtime.sessions, listen_dsn, queue_size=events.queue_size, poll_seconds=events.poll_seconds, exiting=exiting
    )
    secret = runtime.settings.jwt.secret
    if secret is None:
        raise RuntimeError("the runtime's settings carry no JWT secret (start_runtime requires one)")
    app.state.stream_tokens = StreamTokens(
        secret.get_secret_value(), runtime.settings.jwt.algorithm, events.stream_token_seconds
    )


def _bind(app: FastAPI, runtime: Runtime) -> None:
    app.state.runtime = runtime
    secret = runtime.settings.jwt.secret
    app.state.store = open_store(
        runtime.settings, signing_secret=secret.get_secret_value() if secret else None, clock=runtime.clock
    )
    app.state.compliance_engine = compliance_engine(runtime.settings, runtime.clock)
    app.state.authenticator = Authenticator(
        sessions=runtime.sessions,
        counter=runtime.counter,
        tokens=runtime.tokens,
        jwt=runtime.settings.jwt,
        login_limits=runtime.settings.login,
        clock=runtime.clock,
    )
