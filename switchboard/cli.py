"""`switchboard`: one command for every process and dev tool.

Subcommands import their package lazily so `switchboard kafka` works without FastAPI or
Faust being imported, and a broken import in one service cannot break another's entry point.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from switchboard import localkafka

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Switchboard: notification gateway, stream workers and dev tools.",
)
kafka_app = typer.Typer(no_args_is_help=True, help="A real local Apache Kafka (KRaft), no Docker.")
token_app = typer.Typer(no_args_is_help=True, help="Credentials for the tenants file.")
app.add_typer(kafka_app, name="kafka")
tenants_app = typer.Typer(no_args_is_help=True, help="Check and edit the tenants file.")
app.add_typer(token_app, name="token")
app.add_typer(tenants_app, name="tenants")
dead_letters_app = typer.Typer(
    no_args_is_help=True, help="List the workers' dead letters, publish them again."
)
app.add_typer(dead_letters_app, name="dead-letters")
baseline_app = typer.Typer(no_args_is_help=True, help="Asset-count baselines (Get Assets).")
app.add_typer(baseline_app, name="baseline")
tables_app = typer.Typer(no_args_is_help=True, help="The stream workers' tables.")
app.add_typer(tables_app, name="tables")

T = TypeVar("T")


def _variables(module: str, settings: str) -> str:
    """Help text listing every SWITCHBOARD_* variable a settings class reads, with defaults."""
    import importlib

    try:
        fields = getattr(importlib.import_module(module), settings).model_fields
    except Exception as exc:  # a broken service must not break the other commands' help
        return f"(settings unavailable: {exc})"
    lines = [
        f"SWITCHBOARD_{name.upper()}={_default(field)}"
        for name, field in fields.items()
        if not field.is_required()
    ]
    return "Environment variables (with defaults):\n\n" + "\n\n".join(lines)


def _default(field: Any) -> str:
    """A field's default as the help shows it; a computed one by its description."""
    if field.default_factory is not None:
        return f"({field.description})"
    return "" if field.default is None else str(field.default)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"switchboard {version('switchboard')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Switchboard: notification gateway, stream workers and dev tools."""


Home = Annotated[Path, typer.Option(help="Where the cluster's config, data and logs live.")]


@app.command(epilog=_variables("gateway.config", "GatewaySettings"))
def gateway(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080).")] = None,
) -> None:
    """Serve the HTTP gateway: authenticate, validate, publish to raw-notifications."""
    from pydantic import ValidationError

    from gateway.server import run

    try:
        run(host=host, port=port)
    except ValidationError as exc:
        typer.echo(f"switchboard gateway: settings refused: {settings_problems(exc)}", err=True)
        raise typer.Exit(1) from None


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog=_variables("streams.config", "WorkerSettings"),
)
def worker(ctx: typer.Context) -> None:
    """Run a stream worker (Faust). Extra arguments go to `faust worker`, e.g. --web-port."""
    from pydantic import ValidationError

    from schemas.tenants import TenantsFileError
    from streams.worker import run

    try:
        run(list(ctx.args))
    except TenantsFileError as exc:
        # One line, as the gateway does: typer's traceback would show the file's text.
        typer.echo(f"switchboard worker: tenants file refused: {exc}", err=True)
        raise typer.Exit(1) from None
    except ValidationError as exc:  # WorkerSettings, read when streams.app is imported
        typer.echo(f"switchboard worker: settings refused: {settings_problems(exc)}", err=True)
        raise typer.Exit(1) from None


def settings_problems(exc: Any) -> str:
    """A settings ValidationError in one line, without the values (one may be a secret)."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        problems.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(problems)


@tables_app.command("rebuild", epilog=_variables("streams.config", "WorkerSettings"))
def tables_rebuild(
    yes: Annotated[
        bool, typer.Option("--yes", help="Do it; without it, only say what would be done.")
    ] = False,
) -> None:
    """Rebuild every table from raw-notifications, forwarding nothing again (workers stopped)."""
    from switchboard.rebuild import RebuildError, run_rebuild

    try:
        run_rebuild(yes, typer.echo)
    except RebuildError as exc:
        typer.echo(f"switchboard tables rebuild: {exc}", err=True)
        raise typer.Exit(1) from None


@kafka_app.command("start")
def kafka_start(
    brokers: Annotated[int, typer.Option(min=1, max=5, help="Nodes (broker+controller).")] = 1,
    port: Annotated[int, typer.Option(help="Port of the first broker; others follow.")] = 9092,
    controller_port: Annotated[
        int | None, typer.Option(help="First controller port (default: port + 100).")
    ] = None,
    home: Home = localkafka.DEFAULT_HOME,
    secure: Annotated[
        bool,
        typer.Option(
            help="SASL_SSL (SCRAM-SHA-512) with a generated CA, and ACLs: users admin, "
            "gateway, workers, consumer; their settings are printed."
        ),
    ] = False,
) -> None:
    """Fetch the pinned jars (first run), format KRaft storage, start, wait until it answers."""
    try:
        cluster = localkafka.start(
            home, brokers=brokers, port=port, controller_port=controller_port, secure=secure
        )
    except localkafka.KafkaRunnerError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(cluster.bootstrap)
    if secure:
        for user in ("gateway", "workers", "consumer"):
            settings = cluster.secrets.env(user)
            typer.echo(f"# {user}: " + " ".join(f"{k}={v}" for k, v in settings.items()))


@kafka_app.command("stop")
def kafka_stop(home: Home = localkafka.DEFAULT_HOME) -> None:
    """Stop every node of the local cluster (SIGTERM, then SIGKILL after 30 s)."""
    typer.echo("stopped" if localkafka.stop(home) else "not running")


@kafka_app.command("status")
def kafka_status(home: Home = localkafka.DEFAULT_HOME) -> None:
    """Each node's pid, port and whether it runs. Exit 1 if any node is down."""
    nodes = localkafka.status(home)
    if not nodes:
        typer.echo(
            f"no local Kafka cluster in {home} (start one: switchboard kafka start)", err=True
        )
        raise typer.Exit(1)
    for node, alive in nodes:
        state = "running" if alive else "stopped"
        typer.echo(f"node {node.node_id}: {state} 127.0.0.1:{node.port} pid={node.pid}")
    if not nodes or not all(alive for _, alive in nodes):
        raise typer.Exit(1)


@token_app.command("new")
def token_new(tenant: Annotated[str, typer.Option(help="Tenant id in the tenants file.")]) -> None:
    """Print a new bearer token once, and the token_sha256 entry to add to the tenants file."""
    from schemas.tenants import token_sha256

    token = secrets.token_urlsafe(32)
    typer.echo(f"token (shown once, give it to the sender): {token}")
    typer.echo(f'add to tenant {tenant!r} token_sha256: "{token_sha256(token)}"')


@token_app.command("jwt")
def token_jwt(
    iss: Annotated[str, typer.Option(help="App issuer, as in the tenants file.")],
    tenants_file: Annotated[Path, typer.Option(envvar="SWITCHBOARD_TENANTS_FILE")],
    lifetime: Annotated[int, typer.Option(help="Seconds until exp.")] = 60,
) -> None:
    """Sign a JWT as an app issuer would (HS256 with its first secret), for manual tests."""
    from switchboard.devstack import sign_app_jwt

    typer.echo(sign_app_jwt(tenants_file, iss, lifetime))


TenantsFile = Annotated[
    Path, typer.Option("--file", envvar="SWITCHBOARD_TENANTS_FILE", help="The tenants file.")
]


@tenants_app.command("check")
def tenants_check(file: Annotated[Path, typer.Argument(help="The tenants file.")]) -> None:
    """Validate a tenants file with the gateway's own rules; print a one-screen summary."""
    from switchboard import onboarding

    summary = _onboarding(lambda: onboarding.check(file))
    typer.echo(
        f"{file}: OK: {summary.tenants} tenants, {summary.organizations} organizations, "
        f"{summary.tenant_ids} app tenantIds, {summary.issuers} app issuers"
    )
    for line in summary.lines:
        typer.echo(f"  {line}")


@tenants_app.command("add")
def tenants_add(
    tenant_id: Annotated[str, typer.Option("--id", help="The new tenant's id.")],
    uid: Annotated[list[str], typer.Option("--uid", help="An organization (repeat).")],
    file: TenantsFile,
    tenant_id_of_app: Annotated[
        list[str] | None, typer.Option("--tenant-id", help="An app tenantId (repeat).")
    ] = None,
    rate: Annotated[float | None, typer.Option(help="rate_limit_per_s.")] = None,
) -> None:
    """Add a tenant with a new bearer token, printed once; the file is replaced atomically."""
    from switchboard import onboarding

    token = _onboarding(
        lambda: onboarding.add_tenant(file, tenant_id, uid, tenant_id_of_app or (), rate)
    )
    typer.echo(f"tenant {tenant_id!r} added to {file}")
    typer.echo(f"token (shown once, give it to the sender): {token}")


@token_app.command("rotate")
def token_rotate(
    tenant: Annotated[str, typer.Option(help="Tenant id in the tenants file.")],
    file: TenantsFile,
    url: Annotated[
        str, typer.Option(help="This gateway's notification URL, for Apple's configuration.")
    ] = "https://switchboard.example/v1/notifications",
    finish: Annotated[bool, typer.Option(help="Remove the old tokens, keep the newest.")] = False,
) -> None:
    """Add a new token next to the old one (both work), or --finish: keep only the newest."""
    import json

    from switchboard import onboarding

    if finish:
        removed = _onboarding(lambda: onboarding.finish_rotation(file, tenant))
        typer.echo(f"tenant {tenant!r}: {removed} old token(s) removed from {file}")
        return
    token = _onboarding(lambda: onboarding.rotate_token(file, tenant))
    typer.echo(f"tenant {tenant!r}: new token added to {file}; the old one works until --finish")
    typer.echo(f"token (shown once): {token}")
    typer.echo("Apple client configuration body that registers it:")
    typer.echo(json.dumps(onboarding.apple_client_configuration(url, token), indent=2))


def _onboarding(action: Callable[[], T]) -> T:
    """Run an onboarding action; an expected failure is one line and exit status 1."""
    from schemas.tenants import TenantsFileError
    from switchboard.onboarding import OnboardingError

    try:
        return action()
    except (TenantsFileError, OnboardingError) as exc:
        typer.echo(f"switchboard: {exc}", err=True)
        raise typer.Exit(1) from None


Reason = Annotated[str | None, typer.Option("--reason", help="Only this kind, e.g. invalid-body.")]
Since = Annotated[
    str | None,
    typer.Option(help="Only those dead-lettered since: ISO 8601 (UTC) or 30m, 2h, 1d ago."),
]
_DEAD_LETTER_VARIABLES = _variables("switchboard.deadletters", "DeadLetterSettings")


@dead_letters_app.command("list", epilog=_DEAD_LETTER_VARIABLES)
def dead_letters_list(
    reason: Reason = None,
    since: Since = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """What, when, why and from which raw-notifications position, up to the end now."""
    import json

    from switchboard import deadlettercommands

    rows = _dead_letters(
        lambda settings, since_ms: deadlettercommands.list_rows(settings, reason, since_ms),
        since,
    )
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
    else:
        from switchboard.deadletters import table

        typer.echo(table(rows))


@dead_letters_app.command("redrive", epilog=_DEAD_LETTER_VARIABLES)
def dead_letters_redrive(
    reason: Reason = None,
    since: Since = None,
    dry_run: Annotated[bool, typer.Option(help="Decide and count, publish nothing.")] = False,
) -> None:
    """Publish the originals to raw-notifications again, with a progress bar and a summary.

    They flow through dedupe and the tables once more, once however often they are
    redriven, and a row a newer update changed meanwhile keeps the newer value."""
    import time

    from switchboard import deadlettercommands

    summary = _dead_letters(
        lambda settings, since_ms: deadlettercommands.redrive(
            settings, reason, since_ms, dry_run, int(time.time() * 1000)
        ),
        since,
    )
    for line in summary.lines():
        typer.echo(line)
    if summary.failed:
        raise typer.Exit(1)


def _dead_letters(action: Callable[[Any, int | None], T], since: str | None) -> T:
    """Settings read, --since parsed, then `action`; expected failures are one line."""
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from switchboard.deadletters import DeadLetterError, DeadLetterSettings, parse_since

    try:
        settings = DeadLetterSettings()
        since_ms = parse_since(since, datetime.now(UTC)) if since is not None else None
        return action(settings, since_ms)
    except ValidationError as exc:
        typer.echo(
            f"switchboard dead-letters: settings refused: {settings_problems(exc)}", err=True
        )
        raise typer.Exit(1) from None
    except DeadLetterError as exc:
        typer.echo(f"switchboard dead-letters: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def send(
    file: Annotated[Path, typer.Argument(help="JSON body to post.", exists=True)],
    token: Annotated[str, typer.Option(envvar="SWITCHBOARD_TOKEN", help="Bearer token or JWT.")],
    gateway_url: Annotated[
        str, typer.Option("--gateway", help="The gateway's base URL.")
    ] = "http://127.0.0.1:8080",
    url: Annotated[
        str | None,
        typer.Option(help="Full endpoint URL (default: picked from the body, see above)."),
    ] = None,
) -> None:
    """Post one notification to a gateway and print the answer (exit 1 unless 2xx).

    The endpoint follows the body: an app notification (it has `eventType`) goes to
    /v1/app-notifications, anything else to /v1/notifications.
    """
    from switchboard.gatewayclient import GatewayUnreachableError, post_json

    body = file.read_bytes()
    target = url or f"{gateway_url.rstrip('/')}{_endpoint_for(body)}"
    try:
        response = post_json(target, body, token)
    except GatewayUnreachableError as exc:
        typer.echo(f"switchboard send: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{response.status_code} {response.text}")
    if not response.is_success:
        raise typer.Exit(1)


def _endpoint_for(body: bytes) -> str:
    import json

    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    is_app = isinstance(decoded, dict) and "eventType" in decoded
    return "/v1/app-notifications" if is_app else "/v1/notifications"


@baseline_app.command("import")
def baseline_import(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="Get Assets answers, one per page.")
    ],
    uid: Annotated[str, typer.Option("--uid", help="The organization the counts are of.")],
    token: Annotated[str, typer.Option(envvar="SWITCHBOARD_TOKEN", help="The tenant's token.")],
    gateway_url: Annotated[
        str, typer.Option("--gateway", help="The gateway's base URL.")
    ] = "http://127.0.0.1:8080",
    taken_at: Annotated[
        str | None,
        typer.Option(
            help="When the MDM fetched it, ISO 8601 with a zone (default: the "
            "file's takenAt, else its modification time)."
        ),
    ] = None,
) -> None:
    """Post Apple's Get Assets answer for UID as its asset-count baseline (one per file).

    The asset-count view then answers each listed asset's totalCount plus the countDelta
    values accepted after it. Import right after fetching (see the README on the race).
    """
    from switchboard.baseline import BaselineImportError, import_file

    for file in files:
        try:
            done = import_file(file, uid, token, gateway_url, taken_at)
        except BaselineImportError as exc:
            typer.echo(f"switchboard baseline import: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(
            f"{file}: accepted baseline {done.baseline_id} of uId {uid}: "
            f"{done.assets} assets, taken at {done.taken_at_ms} ms"
        )


@app.command()
def bench(
    rates: Annotated[str, typer.Option(help="Offered rates, requests/s, comma-separated.")] = (
        "500,1000,2000,3000"
    ),
    seconds: Annotated[float, typer.Option(help="Seconds per rate.")] = 30,
    tenants: Annotated[int, typer.Option(help="Tenants.")] = 4,
    orgs: Annotated[int, typer.Option(help="Organizations per tenant.")] = 50,
    soak_minutes: Annotated[
        float, typer.Option(help="Then run 70% of the best rate this long; 0: no soak.")
    ] = 0,
) -> None:
    """Start Kafka, a worker and a gateway here; print throughput, latency and memory."""
    from switchboard.bench import run_bench

    offered = [float(r) for r in rates.split(",") if r.strip()]
    typer.echo(run_bench(offered, seconds, tenants, orgs, soak_minutes))


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Gateway port.")] = 8080,
    web_port: Annotated[int, typer.Option(help="Worker query-view port.")] = 6066,
    kafka_port: Annotated[int, typer.Option(help="Kafka port.")] = 9092,
) -> None:
    """Start Kafka, one stream worker and the gateway locally; Ctrl-C stops all three."""
    from switchboard.devstack import run_dev_stack

    run_dev_stack(gateway_port=port, web_port=web_port, kafka_port=kafka_port)
