"""`switchboard dev`: the whole stack on this machine, for trying Switchboard out.

Kafka (scripts/kafka/pom.xml), one stream worker and the gateway, each its own process,
with a demo tenants file whose token is made fresh on every start and printed once.
Everything it writes lives under .dev/ in the checkout; Ctrl-C stops all of it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import jwt
import yaml

from schemas.tenants import TenantDirectory, token_sha256
from switchboard import localkafka

DEV_HOME = localkafka.REPO_ROOT / ".dev"
DEMO_UID = "2049025000431439"  # the uId of Apple's examples
DEMO_TENANT_ID = "312022"  # the tenantId of the app-notification example
DEMO_AUD = "03a22eb2-537b-471c-bf2b-2055e2f71618"
EXAMPLE = localkafka.REPO_ROOT / "tests" / "fixtures" / "examples" / "apple_asset_count.json"


def write_demo_tenants(path: Path) -> str:
    """Write a tenants file with one demo tenant; return its (only ever printed) token."""
    token = secrets.token_urlsafe(32)
    config = {
        "tenants": [
            {
                "id": "demo",
                "token_sha256": [token_sha256(token)],
                "uids": [DEMO_UID],
                "tenant_ids": [DEMO_TENANT_ID],
            }
        ],
        "app_issuers": [
            {
                "iss": "ams",
                "aud": DEMO_AUD,
                "tenant": "demo",
                "algorithms": ["HS256"],
                "secrets": [secrets.token_urlsafe(32)],
                "max_lifetime_s": 60,
                "tenant_ids": [DEMO_TENANT_ID],
            }
        ],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return token


def sign_app_jwt(tenants_file: Path, iss: str, lifetime_s: int = 60) -> str:
    """A JWT as the app-notification sender makes it: HS256 with the issuer's first secret."""
    directory = TenantDirectory.from_yaml(tenants_file.read_text())
    issuer = directory.issuer(iss)
    if issuer is None or not issuer.secrets:
        raise SystemExit(f"no issuer {iss!r} with a shared secret in {tenants_file}")
    now = int(time.time())
    claims = {
        "iss": iss,
        "sub": None,
        "aud": issuer.aud,
        "iat": now,
        "exp": now + lifetime_s,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, issuer.secrets[0], algorithm="HS256")


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "switchboard", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"{url} exited with {proc.returncode}; see {log}:\n{localkafka.tail(str(log), 30)}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} not ready after {timeout:.0f}s; see {log}")


def _terminate(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _banner(gateway_port: int, web_port: int, bootstrap: str, token: str, tenants: Path) -> str:
    gw = f"http://127.0.0.1:{gateway_port}"
    views = f"http://127.0.0.1:{web_port}"
    return f"""
Switchboard is running (Ctrl-C stops everything).
  Kafka        {bootstrap}
  gateway      {gw}   (docs: {gw}/docs, metrics: {gw}/metrics)
  query views  {views}
  tenants file {tenants}   logs: {DEV_HOME}/*.log

Send Apple's ASSET_COUNT example (demo token, shown only now):
  curl -s -X POST {gw}/v1/notifications -H 'Authorization: Bearer {token}' \\
       -H 'Content-Type: application/json' --data-binary @{EXAMPLE}
Then read the count it applied:
  curl -s {views}/v1/orgs/{DEMO_UID}/asset-counts -H 'Authorization: Bearer {token}'
An app notification needs a fresh JWT (valid 60 s):
  {Path(sys.executable).parent / "switchboard"} token jwt --iss ams --tenants-file {tenants}
"""


def run_dev_stack(gateway_port: int, web_port: int, kafka_port: int) -> None:
    DEV_HOME.mkdir(exist_ok=True)
    tenants = DEV_HOME / "tenants.yaml"
    token = write_demo_tenants(tenants)
    # Kafka starts from empty storage every time (localkafka.start): the tables of an
    # earlier run were written against another cluster, and the worker would refuse them.
    shutil.rmtree(DEV_HOME / "worker-data", ignore_errors=True)
    print("starting Kafka ...", flush=True)
    cluster = localkafka.start(DEV_HOME / "kafka", brokers=1, port=kafka_port)
    env = {
        **os.environ,
        "SWITCHBOARD_KAFKA_BOOTSTRAP": cluster.bootstrap,
        "SWITCHBOARD_TENANTS_FILE": str(tenants),
        "SWITCHBOARD_DATA_DIR": str(DEV_HOME / "worker-data"),
        "SWITCHBOARD_WEB_PORT": str(web_port),
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # The worker creates the topics with their partitions; the gateway, started
        # before they exist, would only wait (not ready), so the banner waits for both.
        print("starting the stream worker ...", flush=True)
        log = DEV_HOME / "worker.log"
        procs.append(_spawn(["worker", "--web-port", str(web_port)], env, log))
        _wait_ready(f"http://127.0.0.1:{web_port}/readyz", procs[-1], log, 180)
        print("starting the gateway ...", flush=True)
        log = DEV_HOME / "gateway.log"
        procs.append(_spawn(["gateway", "--port", str(gateway_port)], env, log))
        _wait_ready(f"http://127.0.0.1:{gateway_port}/readyz", procs[-1], log, 60)
        print(_banner(gateway_port, web_port, cluster.bootstrap, token, tenants), flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        print(json.dumps({"exited": [p.args for p in procs if p.poll() is not None]}))
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C or SIGTERM (make and the terminal may each pass one on) must
        # not cut the stop short: the worker and Kafka would be left running.
        handlers = [(s, signal.signal(s, signal.SIG_IGN)) for s in (signal.SIGINT, signal.SIGTERM)]
        print("stopping ...", flush=True)
        for proc in reversed(procs):
            _terminate(proc)
        localkafka.stop(DEV_HOME / "kafka")
        for signum, handler in handlers:
            signal.signal(signum, handler)
