"""The ``lienthong`` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from services.registry import SERVICES


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from shared.allocator import limit_arenas

    limit_arenas()  # before any thread starts: see shared/allocator.py
    entry = SERVICES[args.service]
    settings = entry.settings_type().load()
    if args.port:
        settings.port = args.port
    from shared.catalog import CatalogError

    try:
        app = entry.app_factory()(settings)
    except CatalogError as exc:
        print(f"lienthong {args.service}: the catalogue is invalid:\n{exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.listen_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    """The sandbox operators; webhook secrets from SANDBOX_SECRET_{SMS_A,SMS_B,ZALO,POSTAL}."""
    import os

    import uvicorn

    from services.notify.sandbox.gateway import DEFAULT_SECRETS, create_gateway_app
    from services.notify.sandbox.smtp import start_smtp

    secrets = {
        name: os.environ.get("SANDBOX_SECRET_" + name.upper().replace("-", "_")) or default
        for name, default in DEFAULT_SECRETS.items()
    }
    controller, mailbox = start_smtp(args.host, args.smtp_port)
    try:
        app = create_gateway_app(
            mailbox,
            token="sandbox",
            callback_base_url=args.callback_url or None,
            secrets=secrets,
            receipt_delay_s=args.receipt_delay,
            postal_auto_delay_s=args.postal_auto_advance,
        )
        uvicorn.run(app, host=args.host, port=args.http_port, log_level="warning")
    finally:
        controller.stop()
    return 0


def _external_sandbox(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from services.routing.sandbox.external import create_external_app

    secret = os.environ.get("LIENTHONG_EXTERNAL_SECRET", "sandbox-external-secret")
    uvicorn.run(create_external_app(secret, args.mode), host=args.host, port=args.port, log_level="warning")
    return 0


def _run(args: argparse.Namespace) -> int:
    from services.devstack import StackConfig, run_foreground

    config = StackConfig(
        var_dir=Path(args.var),
        external_port=args.external_port,
        external_mode=args.external_mode,
        postal_auto_advance_s=5.0,
    )
    for name in SERVICES:
        port = getattr(args, f"{name}_port")
        if port:
            config.ports[name] = port
    config.kafka_bootstrap = args.kafka_bootstrap or None
    config.database_url = args.database_url or None
    return run_foreground(config)


async def _service_sessions(service: str):  # type: ignore[no-untyped-def]
    from shared.db import create_engine, session_maker

    settings = SERVICES[service].settings_type().load()
    engine = create_engine(settings.service_database_url, service)
    return engine, session_maker(engine)


def _dead_letters(args: argparse.Namespace) -> int:
    from shared.bus.deadletters import list_dead_letters, replay_dead_letters

    async def main() -> int:
        engine, sessions = await _service_sessions(args.service)
        try:
            if args.action == "list":
                letters = await list_dead_letters(sessions, args.service, include_replayed=args.all)
                if args.json:
                    print(
                        json.dumps(
                            [
                                {
                                    "id": d.id,
                                    "consumer": d.consumer,
                                    "topic": d.topic,
                                    "partition": d.partition,
                                    "offset": d.offset,
                                    "key": d.key,
                                    "event_id": d.event_id,
                                    "event_type": d.event_type,
                                    "error_class": d.error_class,
                                    "error": d.error,
                                    "attempts": d.attempts,
                                    "failed_at": d.failed_at.isoformat(),
                                    "replayed_at": d.replayed_at.isoformat() if d.replayed_at else None,
                                }
                                for d in letters
                            ],
                            ensure_ascii=False,
                            indent=2,
                        )
                    )
                    return 0
                if not letters:
                    print(f"no dead letters for {args.service}")
                for d in letters:
                    state = f"replayed {d.replayed_at:%Y-%m-%d %H:%M}" if d.replayed_at else "pending"
                    print(
                        f"#{d.id} {d.topic}[{d.partition}]@{d.offset} key={d.key} type={d.event_type} "
                        f"{d.error_class}: {d.error} (attempts {d.attempts}, {state})"
                    )
                return 0
            ids = [int(i) for i in args.ids] if args.ids else None
            if ids is None and not args.all:
                print("name dead letter ids to replay, or --all", file=sys.stderr)
                return 2
            replayed = await replay_dead_letters(sessions, args.service, ids)
            print(f"replayed {len(replayed)} dead letter(s) to {args.service}: {replayed}")
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _connector_dead_letters(args: argparse.Namespace) -> int:
    from services.routing.external import list_dead_letters, replay_dead_letters

    async def main() -> int:
        engine, sessions = await _service_sessions("routing")
        try:
            if args.action == "list":
                letters = await list_dead_letters(sessions, include_replayed=args.all)
                rows = [
                    {
                        "id": d.id,
                        "delivery_id": d.delivery_id,
                        "dossier_code": d.dossier_code,
                        "external_system": d.external_system,
                        "status_code": d.status_code,
                        "reason": d.reason,
                        "sends": d.sends,
                        "failed_at": d.failed_at.isoformat(),
                        "replayed_at": d.replayed_at.isoformat() if d.replayed_at else None,
                    }
                    for d in letters
                ]
                if args.json:
                    print(json.dumps(rows, ensure_ascii=False, indent=2))
                    return 0
                if not rows:
                    print("no connector dead letters")
                for r in rows:
                    state = f"replayed {r['replayed_at']}" if r["replayed_at"] else "pending"
                    print(
                        f"#{r['id']} {r['external_system']} {r['dossier_code']} delivery={r['delivery_id']} "
                        f"{r['reason']} (sends {r['sends']}, {state})"
                    )
                return 0
            ids = [int(i) for i in args.ids] if args.ids else None
            if ids is None and not args.all:
                print("name connector dead letter ids to replay, or --all", file=sys.stderr)
                return 2
            replayed = await replay_dead_letters(sessions, ids)
            print(f"replayed {len(replayed)} connector dead letter(s): {replayed}")
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _keys(args: argparse.Namespace) -> int:
    from shared.web.auth import install_key, new_key_string

    async def main() -> int:
        key = new_key_string()
        for service in args.service or list(SERVICES):
            engine, sessions = await _service_sessions(service)
            try:
                await install_key(sessions, key, args.name, args.scope)
            finally:
                await engine.dispose()
        print(key)
        return 0

    return asyncio.run(main())


def _schemas(args: argparse.Namespace) -> int:
    from shared.events.schema_export import DOCS_DIR, rendered_documents, write_documents

    if args.check:
        stale = [
            n
            for n, c in rendered_documents().items()
            if not (DOCS_DIR / n).exists() or (DOCS_DIR / n).read_text(encoding="utf-8") != c
        ]
        if stale:
            print("out of date: " + ", ".join(stale) + " (run: lienthong schemas export)", file=sys.stderr)
            return 1
        print("event schemas are up to date")
        return 0
    for path in write_documents():
        print(path)
    return 0


def _sla_rebuild(args: argparse.Namespace) -> int:
    from services.sla.rebuild import main as rebuild

    return rebuild([*(["--reset"] if args.reset else []), *(["--no-commit"] if args.no_commit else [])])


def _load(args: argparse.Namespace) -> int:
    from services.loadgen.run import command

    return command(args)


def _wait(args: argparse.Namespace) -> int:
    import httpx

    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(args.url, timeout=2).status_code == 200:
                return 0
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    print(f"{args.url} not ready after {args.timeout}s", file=sys.stderr)
    return 1


def _batch_size(value: str) -> int:
    from services.intake.legacy import MAX_IMPORT

    if not value.isdigit() or not 1 <= int(value) <= MAX_IMPORT:
        raise argparse.ArgumentTypeError(f"a number from 1 to {MAX_IMPORT}")
    return int(value)


def _import(args: argparse.Namespace) -> int:
    import os

    import httpx

    from services.intake.import_client import run_import

    key = args.key or os.environ.get("LIENTHONG_API_KEY")
    path = Path(args.file)
    problem = None
    if not key:
        problem = "no API key: pass --key KEY or set LIENTHONG_API_KEY (a key with the import scope)"
    elif not path.is_file():
        problem = f"{path}: no such file"
    elif not args.url.startswith(("http://", "https://")):
        problem = f"{args.url}: not an http(s) URL"
    if problem:
        print(f"lienthong import: {problem}", file=sys.stderr)
        return 2
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=args.url, headers=headers, timeout=httpx.Timeout(300, connect=10)) as client:
        return run_import(path, client, args.batch, sys.stdout, sys.stderr)


def _add_external_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The sandbox external systems and routing's connector dead letters."""
    p = sub.add_parser(
        "external-sandbox", help="run the sandbox external systems (land registry, tax…) routing hands steps to"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8091)
    p.add_argument("--mode", choices=["ok", "fail", "silent"], default="ok", help="how every system answers at start")
    p.set_defaults(func=_external_sandbox)

    p = sub.add_parser("connector-dead-letters", help="list or replay routing's undeliverable external handovers")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("ids", nargs="*", help="connector dead letter ids (replay)")
    p.add_argument("--all", action="store_true", help="list: include replayed; replay: every pending one")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_connector_dead_letters)


def _add_tool_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from services.loadgen.arguments import add_arguments

    p = sub.add_parser("import", help="import legacy dossiers with their history from an NDJSON file")
    p.add_argument("file", help="one legacy dossier a line (format: services/intake/legacy.py)")
    p.add_argument("--url", default="http://127.0.0.1:8001", help="intake's base URL")
    p.add_argument("--key", default="", help="API key with the import scope (default: $LIENTHONG_API_KEY)")
    p.add_argument("--batch", type=_batch_size, default=200, help="dossiers per request (1–500)")
    p.set_defaults(func=_import)

    p = sub.add_parser("wait", help="wait until a URL answers 200")
    p.add_argument("url")
    p.add_argument("--timeout", type=float, default=60)
    p.set_defaults(func=_wait)

    p = sub.add_parser(
        "sla-rebuild",
        help="rebuild sla's state from the event history on the broker (stop sla first)",
        description="Facts, clocks, steps and timers from intake's and routing's topics, then sla's consumer group "
        "set to the end of that history. Settings from the LIENTHONG_* environment, as sla's own.",
    )
    p.add_argument("--reset", action="store_true", help="empty sla's facts, clocks, timers and inbox first")
    p.add_argument("--no-commit", action="store_true", help="leave sla's group offsets as they are (a trial run)")
    p.set_defaults(func=_sla_rebuild)

    p = sub.add_parser(
        "load",
        help="drive the public APIs like a province (make run first): live rate, then what each dossier became",
    )
    add_arguments(p)
    p.set_defaults(func=_load)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lienthong", description="Interconnected one-stop dossier processing.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run one service (settings from LIENTHONG_* variables)")
    p.add_argument("service", choices=sorted(SERVICES))
    p.add_argument("--port", type=int, default=0)
    p.set_defaults(func=_serve)

    p = sub.add_parser("run", help="run the whole platform on embedded defaults (make run)")
    p.add_argument("--var", default="var", help="where SQLite files, logs and dev keys go")
    for name in SERVICES:
        p.add_argument(f"--{name}-port", type=int, default=0)
    p.add_argument("--kafka-bootstrap", default="", help="use this broker instead of the embedded one")
    p.add_argument("--database-url", default="", help="use this database instead of SQLite files")
    p.add_argument("--external-port", type=int, default=8091, help="the sandbox external systems' port")
    p.add_argument("--external-mode", choices=["ok", "fail", "silent"], default="ok")
    p.set_defaults(func=_run)

    p = sub.add_parser(
        "sandbox",
        help="run the sandbox SMTP server and the SMS, Zalo and postal gateways",
        description="Webhook secrets come from SANDBOX_SECRET_SMS_A, _SMS_B, _ZALO and _POSTAL "
        "(defaults: sandbox-<provider>-secret); the operators' API token is 'sandbox'.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--smtp-port", type=int, default=1025)
    p.add_argument("--http-port", type=int, default=8090)
    p.add_argument("--callback-url", default="", help="notify's base URL for receipts and webhooks (none: not sent)")
    p.add_argument("--receipt-delay", type=float, default=0.2, help="seconds before a delivery receipt is sent")
    p.add_argument(
        "--postal-auto-advance",
        type=float,
        default=None,
        metavar="SECONDS",
        help="advance new postal orders by themselves after SECONDS (pickups: picked_up, deliveries: delivered)",
    )
    p.set_defaults(func=_sandbox)

    _add_external_commands(sub)

    p = sub.add_parser("dead-letters", help="list or replay a consumer's dead letters")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("--service", required=True, choices=sorted(SERVICES))
    p.add_argument("ids", nargs="*", help="dead letter ids (replay)")
    p.add_argument("--all", action="store_true", help="list: include replayed; replay: every pending one")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_dead_letters)

    p = sub.add_parser("keys", help="create an API key")
    p.add_argument("action", choices=["create"])
    p.add_argument("--name", required=True)
    p.add_argument("--scope", action="append", required=True)
    p.add_argument("--service", action="append", choices=sorted(SERVICES), help="default: every service")
    p.set_defaults(func=_keys)

    p = sub.add_parser("schemas", help="export event JSON Schemas and the AsyncAPI document")
    p.add_argument("action", choices=["export"])
    p.add_argument("--check", action="store_true", help="fail if the committed documents are out of date")
    p.set_defaults(func=_schemas)

    _add_tool_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
