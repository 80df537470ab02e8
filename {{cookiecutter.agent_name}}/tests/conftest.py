"""Fixtures: every network peer faked on loopback, and the agent served both ways."""

import pytest

from tests.fakes.background import BackgroundServers
from tests.harness import AgentServer, start_fakes


@pytest.fixture(scope="session")
def fakes():
    servers = BackgroundServers()
    yield start_fakes(servers)
    servers.close()


@pytest.fixture(autouse=True)
def fresh_script(request):
    """Each test scripts its own caller and failures; nothing carries over."""
    if "fakes" in request.fixturenames:
        request.getfixturevalue("fakes").reset()
    yield


@pytest.fixture
def fresh_server(fakes, tmp_path):
    """Starts servers of the test's own, so what a process does once is counted from its start."""
    started = []

    def start(mode: str, **settings: str) -> AgentServer:
        log_path = tmp_path / f"{mode}-{len(started)}.log"
        started.append(AgentServer.start(mode, {**fakes.env, **settings}, log_path, fakes.twilio))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session", params=["cloud", "local"])
def agent(request, fakes, tmp_path_factory):
    server = AgentServer.start(
        request.param, fakes.env, tmp_path_factory.mktemp("logs") / f"{request.param}.log", fakes.twilio
    )
    fakes.reset()  # the warm-up's requests belong to no test
    yield server
    server.stop()
