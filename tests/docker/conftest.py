"""A Docker engine for the package's tests, and the raylite image they run.

Needs root (dockerd does); without it the tests skip. As root, anything that
stops the engine from running here fails the tests with the reason, since CI
runs as root and a skip there would hide a cluster nobody ran.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.docker.engine import (
    Engine,
    EngineError,
    build_image,
    ensure_standin_base,
    exclusive,
    install_packages,
)

IMAGE = "raylite:dev"  # the tag docker-compose.yml gives the image it builds


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "docker: runs docker-compose.yml on a Docker engine the tests start (root)")


class Phases:
    """How long the slow steps took, printed at the end: CI's log shows where the time went."""

    lines: list[str] = []  # one run of pytest has one package of docker tests

    def __init__(self) -> None:
        self.started = time.monotonic()

    def done(self, what: str, since: float) -> float:
        now = time.monotonic()
        self.lines.append(f"{what}: {now - since:.0f}s")
        return now


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if Phases.lines:
        terminalreporter.section("docker tests: where the time went")
        for line in Phases.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="package")
def phases() -> Iterator[Phases]:
    record = Phases()
    yield record
    record.done("docker tests in all", record.started)


@pytest.fixture(scope="package")
def engine(tmp_path_factory: pytest.TempPathFactory, phases: Phases) -> Iterator[Engine]:
    if os.geteuid() != 0:
        pytest.skip("the docker-compose tests start a Docker engine, which needs root")
    since = time.monotonic()
    try:
        install_packages()
    except EngineError as exc:
        pytest.fail(f"cannot install the Docker engine: {exc}", pytrace=False)
    since = phases.done("packages (docker.io, docker-compose, debootstrap) checked or installed", since)
    with exclusive():
        ours = Engine(tmp_path_factory.mktemp("dockerd") / "dockerd.log")
        try:
            ours.start()
        except EngineError as exc:
            pytest.fail(f"cannot run a Docker engine here: {exc}", pytrace=False)
        phases.done("dockerd started", since)
        try:
            yield ours
        finally:
            since = time.monotonic()
            try:
                # the stand-in base stays (it is the slow part); the project's image need not
                if ours.has_image(IMAGE):
                    ours.docker("rmi", IMAGE)
                ours.docker("image", "prune", "-f")
            finally:
                ours.stop()
            phases.done("images removed, dockerd stopped", since)


@pytest.fixture(scope="package")
def image(engine: Engine, phases: Phases) -> str:
    since = time.monotonic()
    try:
        tag, built = ensure_standin_base(engine)
        since = phases.done(f"stand-in base {tag} {'built' if built else 'found in the cache'}", since)
        build_image(engine, IMAGE)
        phases.done(f"{IMAGE} built", since)
    except EngineError as exc:
        pytest.fail(str(exc), pytrace=False)
    return IMAGE
