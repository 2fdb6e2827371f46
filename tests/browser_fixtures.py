"""Browser tests: the real app served by uvicorn on 127.0.0.1, driven through Playwright in
Debian's Chromium (/usr/bin/chromium; a downloaded browser cannot be installed here).

The server runs against its own SQLite database and evidence folder (data a browser sees must be
committed), seeded through the same services the portal uses. Screenshots go to
test-output/screenshots/.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from rich.console import Console
from sqlalchemy.engine import Engine

from audit_portal import migrate
from audit_portal.app import create_app
from audit_portal.catalogue.service import load_catalogue
from audit_portal.config import Settings
from audit_portal.db import make_engine, unit_of_work
from audit_portal.demo import load_demo
from evidence_store import open_store

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"
# Artifacts a person looks at after a run (not committed): screenshots per language, PDF pages.
ARTIFACTS = Path(__file__).resolve().parents[1] / "tmp" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_POLLS = 200  # x 0.05 s: the server must be up within 10 s


@dataclass
class LiveServer:
    url: str
    engine: Engine
    settings: Settings


@contextmanager
def serve(settings: Settings, engine: Engine) -> Iterator[LiveServer]:
    """The app on a free port of 127.0.0.1 in a thread, for as long as the block runs."""
    app = create_app(settings, engine=engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(STARTUP_POLLS):
        if server.started:
            started.set()
            break
        started.wait(0.05)
    if not started.is_set():
        server.should_exit = True
        raise RuntimeError("the live server did not start within 10 s")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", engine=engine, settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("live")
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        secret_key="browser-test-secret-key-long-enough-to-sign",
        scheduler_enabled=False,
    )
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    try:
        with serve(settings, engine) as server:
            yield server
    finally:
        engine.dispose()


DEMO_SECRET = "browser-test-secret-key-long-enough-to-sign"


def _demo_settings(root: Path, *readable: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=root / "var",
        secret_key=DEMO_SECRET,
        scheduler_enabled=False,
        collector_path_roots=(root, *readable),
    )


def _build_demo(root: Path) -> None:
    settings = _demo_settings(root)
    settings.data_dir.mkdir(parents=True)
    engine = make_engine(settings.database_url)
    try:
        migrate.upgrade(engine)
        with unit_of_work(engine) as session:
            load_catalogue(session)
            load_demo(session, open_store(settings.store_url), settings, Console(quiet=True))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A portal holding the demo organisation of `make run`: every status, chart and list filled.

    The demo takes minutes of CPU (a year of collector runs), so one test run builds it once:
    under xdist the first worker builds it into the run's shared folder while the others wait on
    a lock, and each worker serves its own copy."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    template = shared / "demo-template"
    with open(shared / "demo-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (template / "ready").exists():
            shutil.rmtree(template, ignore_errors=True)
            _build_demo(template)
            (template / "ready").touch()
    root = tmp_path_factory.mktemp("demo")
    shutil.copytree(template, root, dirs_exist_ok=True)
    # the demo's collector instances name their input files in the template's folder
    settings = _demo_settings(root, template)
    engine = make_engine(settings.database_url)
    try:
        with serve(settings, engine) as server:
            yield server
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed (apt-get install -y chromium); .ci/run installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
