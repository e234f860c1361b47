"""The services under fuzz, and the tally of inputs sent, shown at the end of the run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.harness import TALLY, Services


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = Services(tmp_path_factory.mktemp("services"))
    services.start()
    services.check()
    yield services
    services.check()
    services.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if not TALLY.examples:
        return
    terminalreporter.write_sep("-", "raylite fuzz")
    for line in TALLY.lines():
        terminalreporter.write_line(line)
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None:
        path = Path(factory.getbasetemp()) / "fuzz_tally.json"
        path.write_text(json.dumps(TALLY.as_dict(), indent=1))
        terminalreporter.write_line(f"tally written to {path}")
