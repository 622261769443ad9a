"""A gateway app per test: a temporary tenants file and an in-memory publisher."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import GatewaySettings
from switchboard.tenantsfile import write_tenants
from tests.unit.gateway.support import MemoryPublisher, tenants_config


@pytest.fixture
def tenants_file(tmp_path: Path) -> Path:
    return write_tenants(tmp_path / "tenants.yaml", tenants_config())


@pytest.fixture
def settings(tenants_file: Path) -> GatewaySettings:
    return GatewaySettings(
        tenants_file=tenants_file, raw_topic="raw-test", tenants_reload_interval_s=0.05
    )


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
async def app(settings: GatewaySettings, publisher: MemoryPublisher) -> AsyncIterator[FastAPI]:
    application = create_app(settings, publisher=publisher)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http
