"""The `engage` command. Every command that creates something prints it as JSON on stdout;
errors go to stderr as RFC 7807-shaped JSON with a non-zero exit status, and so do the logs, so that stdout
holds nothing but what the command prints."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from uvicorn.config import STARTUP_FAILURE

from engage.bench.registry import BENCHMARKS
from engage.compliance import repository as compliance_repository
from engage.compliance.engine import AUDIT_PREFIX
from engage.compliance.repository import ChainReport
from engage.config import InsecureSecretError, Settings, Telephony, require_secure_jwt
from engage.core.clock import Clock, SystemClock, isoformat_z
from engage.core.db import create_owner_engine, tenant_transaction, unscoped_transaction
from engage.core.errors import BadRequest, NotFound, ProblemError, problem_type
from engage.core.logging import configure_logging
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.demo import Demo, demo_clock_start, load_sample_registry, seed_demo, seed_floor
from engage.main import clock_for, create_app, database_url, open_sessions, run_worker
from engage.migrate import migrate
from engage.registry import service as registry
from engage.telephony.esl import codec as esl_codec
from engage.telephony.sim.server import Behaviour, SwitchSimulator
from engage.tenancy import repository as tenancy_repository
from engage.tenancy import service as tenancy
from engage.users import service as users
from engage.users.schemas import UserCreate, UserRead


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _print_demo(demo: Demo, settings: Settings) -> None:
    _print_json(
        {
            "tenant_id": str(demo.tenant_id),
            "api": f"http://{settings.api.host}:{settings.api.port}",
            "console": f"http://{settings.api.host}:{settings.api.port}/console/",
            "docs": f"http://{settings.api.host}:{settings.api.port}/docs",
            "sim_clock_start": isoformat_z(settings.sim.clock_start) if settings.sim.clock_start else None,
            "logins": [
                {"email": d.email, "password": d.password, "role": d.role.value, "full_name": d.full_name}
                for d in demo.logins
            ],
        }
    )
    sys.stdout.flush()


def _serve(settings: Settings, *, demo: bool, with_switch: bool) -> int:
    # Refuse an insecure secret here, as a problem on stderr; inside the lifespan it would only surface as
    # uvicorn's "Application startup failed" with a traceback.
    settings = require_secure_jwt(settings)

    async def on_ready(runtime: Runtime) -> None:
        if demo:
            seeded = await seed_demo(
                runtime.sessions, runtime.clock, rate_limit_per_minute=settings.rate.default_per_minute
            )
            if with_switch and settings.telephony is Telephony.sim:
                if runtime.database_url is not None:
                    await load_sample_registry(runtime.sessions, runtime.database_url, runtime.clock)
                await seed_floor(runtime.sessions, runtime.clock, seeded.tenant_id)
            _print_demo(seeded, settings)

    # `exiting`: open event streams are ended once a shutdown starts, or uvicorn would wait for them forever.
    app = create_app(settings, on_ready=on_ready, with_switch=with_switch, exiting=lambda: server.should_exit)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.api.host,
            port=settings.api.port,
            log_config=None,
            access_log=False,
            timeout_keep_alive=settings.api.keep_alive_seconds,
        )
    )
    # After a graceful shutdown uvicorn re-raises the signal that asked for it, under the handler that was in
    # place before it started: with the default ones a clean stop would end as "killed by SIGTERM" (status
    # 143) or a KeyboardInterrupt. These handlers make that re-raise a no-op, and a signal that arrives before
    # uvicorn installs its own still asks for shutdown.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, lambda _signum, _frame: setattr(server, "should_exit", True))
    server.run()
    return 0 if server.started else STARTUP_FAILURE


_Result = TypeVar("_Result")


def _with_sessions(
    settings: Settings, action: Callable[[async_sessionmaker[AsyncSession], Clock], Awaitable[_Result]]
) -> _Result:
    async def run() -> _Result:
        async with open_sessions(settings) as sessions:
            return await action(sessions, clock_for(settings))

    return asyncio.run(run())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    # With no database configured this is the demo: embedded PostgreSQL, generated JWT secret, demo tenant.
    demo = args.demo or settings.database.url is None
    settings = _override_api(settings, args).model_copy(update={"demo": settings.demo or demo})
    if demo and settings.telephony is Telephony.sim and settings.sim.clock_start is None:
        # The demo dials on a simulated clock inside AE's calling hours, whatever the real hour (DESIGN.md §2's
        # ENGAGE_SIM_CLOCK_START; setting it chooses another instant).
        sim = settings.sim.model_copy(update={"clock_start": demo_clock_start(SystemClock().now())})
        settings = settings.model_copy(update={"sim": sim})
    return _serve(settings, demo=demo, with_switch=True)


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    return _serve(_override_api(settings, args), demo=False, with_switch=False)


def _override_api(settings: Settings, args: argparse.Namespace) -> Settings:
    api = settings.api.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None})
    update: dict[str, Any] = {"api": api}
    if "public_url" not in settings.model_fields_set:
        # Unset, the public URL is where this process listens (signed recording and report links point there), so
        # `engage serve --port 8765` plays its recordings; a wildcard address is reached at loopback.
        host = "127.0.0.1" if api.host in ("0.0.0.0", "::", "") else api.host  # noqa: S104 - compared, not bound
        update["public_url"] = f"http://{f'[{host}]' if ':' in host else host}:{api.port}"
    return settings.model_copy(update=update)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """The dialer worker and the webhook dispatcher, without the API, until SIGINT or SIGTERM (which hand the
    worker's campaign leases back at once)."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for handled in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(handled, stop.set)
        await run_worker(settings, stop)

    asyncio.run(run())
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> None:
        async with database_url(settings, stop_embedded=False) as url:
            await migrate(url)

    asyncio.run(run())
    _print_json({"migrated": True})
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    async def action(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> Demo:
        return await seed_demo(sessions, clock, rate_limit_per_minute=settings.rate.default_per_minute)

    demo = _with_sessions(settings, action)
    _print_demo(demo, settings)
    return 0


def cmd_tenant_create(args: argparse.Namespace, settings: Settings) -> int:
    async def action(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> dict[str, Any]:
        async with unscoped_transaction(sessions) as session:
            tenant = await tenancy.create(
                session,
                name=args.name,
                timezone=args.timezone,
                country=args.country,
                rate_limit_per_minute=args.rate_limit or settings.rate.default_per_minute,
                clock=clock,
            )
            return {
                "id": str(tenant.id),
                "name": tenant.name,
                "timezone": tenant.timezone,
                "country": tenant.country,
                "rate_limit_per_minute": tenant.rate_limit_per_minute,
                "created_at": isoformat_z(tenant.created_at),
            }

    _print_json(_with_sessions(settings, action))
    return 0


def cmd_user_create(args: argparse.Namespace, settings: Settings) -> int:
    data = UserCreate(
        email=args.email,
        password=args.password,
        full_name=args.full_name or args.email.split("@")[0],
        role=Role(args.role),
        sip_user=args.sip_user,
    )

    async def action(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> dict[str, Any]:
        async with tenant_transaction(sessions, args.tenant) as session:
            if await tenancy_repository.get(session, args.tenant) is None:
                raise NotFound(f"No tenant {args.tenant}.")
            user = await users.create_user(session, args.tenant, data, clock=clock)
            return _dump(UserRead.model_validate(user))

    _print_json(_with_sessions(settings, action))
    return 0


def cmd_registry_import(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> registry.ImportResult:
        async with database_url(settings, stop_embedded=False) as url:
            await migrate(url)
            return await registry.import_registry(
                url, args.jurisdiction, Path(args.file), replace=args.replace, clock=clock_for(settings)
            )

    _print_json(asdict(asyncio.run(run())))
    return 0


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when every link of the compliance audit chain holds, 1 at the first broken one (printed)."""

    async def run() -> ChainReport:
        async with database_url(settings, stop_embedded=False) as url:
            await migrate(url)
            engine = create_owner_engine(url)
            try:
                async with engine.connect() as connection:
                    return await compliance_repository.verify_chain(connection)
            finally:
                await engine.dispose()

    report = asyncio.run(run())
    broken = report.first_broken_seq
    _print_json(
        {
            "verified": broken is None,
            "rows": report.rows,
            "last_audit_ref": f"{AUDIT_PREFIX}{report.last_seq}" if report.last_seq else None,
            "first_broken": {"audit_ref": f"{AUDIT_PREFIX}{broken}", "reason": report.reason} if broken else None,
        }
    )
    return 0 if broken is None else 1


def cmd_esl_decode(args: argparse.Namespace, settings: Settings) -> int:
    """The frames of a captured ESL stream as JSON lines: an operator's debugging tool, the codec's black box."""
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise BadRequest(f"Cannot read {args.file}: {exc.strerror}.") from exc
    try:
        frames = esl_codec.decode_stream(data)
        lines = [json.dumps(esl_codec.frame_as_json(frame), ensure_ascii=False) for frame in frames]
    except esl_codec.EslProtocolError as exc:
        raise BadRequest(f"{args.file} is not an ESL stream: {exc}") from exc
    for line in lines:
        print(line)
    return 0


def cmd_sim(args: argparse.Namespace, settings: Settings) -> int:
    """The switch simulator alone, speaking ESL on `--host:--port` until SIGINT or SIGTERM. Prints where it
    listens as JSON once it accepts connections."""
    secret = settings.esl.password.get_secret_value() if settings.esl.password is not None else ""
    password = args.password or secret
    if not password:
        raise BadRequest(
            "Refusing to start the switch simulator without a password: set ENGAGE_ESL_PASSWORD or pass --password."
        )
    try:
        behaviour = Behaviour.from_settings(settings.sim)
    except ValueError as exc:
        raise BadRequest(f"Invalid simulator settings: {exc}") from exc

    async def run() -> None:
        simulator = SwitchSimulator(
            password=password,
            behaviour=behaviour,
            recordings_dir=Path(args.recordings_dir) if args.recordings_dir else None,
        )
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for handled in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(handled, stopping.set)
        try:
            port = await simulator.start(args.host, args.port)
        except OSError as exc:
            raise BadRequest(f"Cannot listen on {args.host}:{args.port}: {exc.strerror}.") from exc
        try:
            _print_json({"esl": {"host": args.host, "port": port}})
            sys.stdout.flush()
            await stopping.wait()
        finally:
            await simulator.stop()

    asyncio.run(run())
    return 0


# `--minutes` means something else to each benchmark that reads it, and so has a default of its own in each.
_DEFAULT_MINUTES = {"recordings": 5.0, "soak": 60.0}


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    if args.minutes is None:
        args.minutes = _DEFAULT_MINUTES.get(args.what)
    return BENCHMARKS[args.what](args, settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engage", description="Engage outbound dialer.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run everything in one process (API; migrations applied on start)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--demo", action="store_true", help="seed the demo tenant and print its logins")
    serve.set_defaults(handler=cmd_serve)

    api = sub.add_parser("api", help="run the API only (production: ENGAGE_DATABASE_URL and ENGAGE_JWT_SECRET set)")
    api.add_argument("--host")
    api.add_argument("--port", type=int)
    api.set_defaults(handler=cmd_api)

    sub.add_parser(
        "worker", help="run the dialer worker and the webhook dispatcher (any number; campaigns are leased)"
    ).set_defaults(handler=cmd_worker)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(handler=cmd_migrate)
    sub.add_parser("demo", help="seed the demo tenant and print its logins").set_defaults(handler=cmd_demo)

    tenant = sub.add_parser("tenant", help="manage tenants").add_subparsers(dest="action", required=True)
    tenant_create = tenant.add_parser("create", help="create a tenant")
    tenant_create.add_argument("--name", required=True)
    tenant_create.add_argument("--timezone", default="Asia/Dubai")
    tenant_create.add_argument("--country", default="AE")
    tenant_create.add_argument("--rate-limit", type=int, help="requests per minute (default 2000)")
    tenant_create.set_defaults(handler=cmd_tenant_create)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    user_create = user.add_parser("create", help="create a user")
    user_create.add_argument("--tenant", required=True, type=uuid.UUID)
    user_create.add_argument("--email", required=True)
    user_create.add_argument("--password", required=True)
    user_create.add_argument("--role", required=True, choices=[r.value for r in Role])
    user_create.add_argument("--full-name")
    user_create.add_argument("--sip-user")
    user_create.set_defaults(handler=cmd_user_create)

    registries = sub.add_parser("registry", help="manage national DNC registries").add_subparsers(
        dest="action", required=True
    )
    registry_import = registries.add_parser(
        "import", help="load a national registry file (CSV with a phone column, or one number per line)"
    )
    registry_import.add_argument("jurisdiction", metavar="JURISDICTION", help="ISO 3166-1 alpha-2, such as AE")
    registry_import.add_argument("file", metavar="FILE")
    registry_import.add_argument("--replace", action="store_true", help="replace the registry (default: add to it)")
    registry_import.set_defaults(handler=cmd_registry_import)

    audit = sub.add_parser("audit", help="the compliance audit log").add_subparsers(dest="action", required=True)
    audit_verify = audit.add_parser("verify", help="walk the hash chain; exit 1 at the first broken link")
    audit_verify.set_defaults(handler=cmd_audit_verify)

    esl = sub.add_parser("esl", help="FreeSWITCH Event Socket tools").add_subparsers(dest="action", required=True)
    esl_decode = esl.add_parser("decode", help="print the frames of a captured ESL stream as JSON lines")
    esl_decode.add_argument("file", metavar="FILE")
    esl_decode.set_defaults(handler=cmd_esl_decode)

    sim = sub.add_parser("sim", help="run the switch simulator (FreeSWITCH's Event Socket on loopback)")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8021)
    sim.add_argument("--password", help="ESL password (default: ENGAGE_ESL_PASSWORD)")
    sim.add_argument("--recordings-dir", help="uuid_record paths must lie inside this folder")
    sim.set_defaults(handler=cmd_sim)

    bench = sub.add_parser("bench", help="run a benchmark and print its figures")
    bench.add_argument("what", choices=sorted(BENCHMARKS))
    bench.add_argument("--seconds", type=float, default=10.0)
    bench.add_argument(
        "--concurrency",
        type=int,
        help="clients (api: 16 connections, compliance: 50), legs (switch: 1000), uploads (4)",
    )
    bench.add_argument("--contacts", type=int, help="api: contacts loaded for its second phase (1,000,000)")
    bench.add_argument("--rounds", type=int, help="api: reference/endpoint pairs per endpoint, median kept (3)")
    bench.add_argument("--hours", type=float, default=6.0, help="pacing: simulated hours per run")
    bench.add_argument("--seeds", type=int, default=4, help="pacing: seeds per scenario")
    bench.add_argument(
        "--count", type=int, help="recordings: recordings uploaded (1000); reports: calls exported (1000000)"
    )
    bench.add_argument("--pdf-rows", type=int, help="reports: calls exported as a PDF (100000)")
    bench.add_argument(
        "--minutes", type=float, help="recordings: minutes of audio each (5: 4.8 MB); soak: minutes of dialling (60)"
    )
    bench.add_argument("--agents", type=int, default=100, help="soak: agents on the floor")
    bench.add_argument(
        "--big-count", type=int, default=3, help="recordings: long recordings uploaded after (memory check; 0: none)"
    )
    bench.add_argument("--big-minutes", type=float, default=60.0, help="recordings: minutes of audio each long one")
    bench.add_argument(
        "--keep",
        action="store_true",
        help="recordings: leave the uploaded objects in the bucket; soak: keep the scratch database and the logs",
    )
    bench.set_defaults(handler=cmd_bench)
    return parser


def _validation_detail(exc: ValidationError) -> str:
    """What is wrong, field by field, without the values: pydantic's own message repeats each input, and
    an input may be a password (`engage user create --password`) or a secret from the environment."""
    problems = exc.errors(include_url=False, include_input=False, include_context=False)
    return "; ".join(f"{'.'.join(str(part) for part in e['loc']) or exc.title}: {e['msg']}" for e in problems)


def _fail(status: int, slug: str, title: str, detail: str) -> int:
    body = {"type": problem_type(slug), "title": title, "status": status, "detail": detail}
    print(json.dumps(body, ensure_ascii=False), file=sys.stderr)
    return 2 if status == 400 else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        return _fail(400, "invalid-settings", "Invalid settings", _validation_detail(exc))
    # Logs go to stderr: stdout carries only what a command prints, so it can be piped into a parser.
    configure_logging(settings.log_level)
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    try:
        return handler(args, settings)
    except ProblemError as exc:
        return _fail(exc.status, exc.slug, exc.title, exc.detail)
    except ValidationError as exc:
        return _fail(400, "validation-error", "Invalid input", _validation_detail(exc))
    except InsecureSecretError as exc:
        return _fail(400, "insecure-jwt-secret", "Refusing to start", str(exc))


if __name__ == "__main__":
    sys.exit(main())
