"""Fixtures: every network peer faked on loopback, and the agent served both ways."""

import time

import pytest

from tests.fakes.background import BackgroundServers
from tests.faults import CALL_ENDED, calls_in_progress, ended_calls_without_one_report
from tests.harness import AgentServer, start_fakes


@pytest.fixture(scope="session")
def fakes():
    servers = BackgroundServers()
    yield start_fakes(servers)
    servers.close()


# How long a test's calls on the shared agent may take to end before the next test starts anyway.
SETTLE_SECS = 10.0


@pytest.fixture(autouse=True)
def fresh_script(request):
    """Each test scripts its own caller and failures; nothing carries over, not even a call still ending
    on the shared agent (which would speak into the next test's fakes).

    Every call a test ran on the shared agent that ended must have left exactly one call report, in the
    log and, unless the test broke the endpoint, at CALL_REPORT_URL.
    """
    fakes = request.getfixturevalue("fakes") if "fakes" in request.fixturenames else None
    if fakes:
        fakes.reset()
    agent = request.getfixturevalue("agent") if "agent" in request.fixturenames else None
    log_before = len(agent.log()) if agent else 0
    yield
    if agent:
        deadline = time.monotonic() + SETTLE_SECS
        while calls_in_progress(agent) and time.monotonic() < deadline:
            time.sleep(0.1)
        log = agent.log()[log_before:]
        assert ended_calls_without_one_report(log) == []
        if fakes.reports.status == 200 and not fakes.reports.hang_secs:
            for call_sid in CALL_ENDED.findall(log):
                assert len(fakes.reports.reports_for(call_sid)) == 1, f"{call_sid}: not one report POSTed"


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
