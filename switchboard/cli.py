"""`switchboard`: one command for every process and dev tool.

Subcommands import their package lazily so `switchboard kafka` works without FastAPI or
Faust being imported, and a broken import in one service cannot break another's entry point.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

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
app.add_typer(token_app, name="token")

Home = Annotated[Path, typer.Option(help="Where the cluster's config, data and logs live.")]


@app.command()
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


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
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


@app.command()
def send(
    file: Annotated[Path, typer.Argument(help="JSON body to post.", exists=True)],
    token: Annotated[str, typer.Option(envvar="SWITCHBOARD_TOKEN", help="Bearer token or JWT.")],
    url: Annotated[str, typer.Option()] = "http://127.0.0.1:8080/v1/notifications",
) -> None:
    """Post one notification to a gateway and print the answer (exit 1 unless 2xx)."""
    import httpx

    response = httpx.post(
        url,
        content=file.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    typer.echo(f"{response.status_code} {response.text}")
    if not response.is_success:
        raise typer.Exit(1)


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
