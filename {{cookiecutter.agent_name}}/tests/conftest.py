"""Fixtures: every network peer faked on loopback, and the agent served both ways."""

import time

import pytest

from tests.fakes.background import BackgroundServers
from tests.faults import CALL_ENDED, CALL_STARTED, call_reports, calls_in_progress, calls_without_one_report
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

    Every call a test ran on the shared agent must have ended, leaving exactly one call report per stream
    in the log and, unless the test broke the endpoint (or Twilio refused the stream), the same at
    CALL_REPORT_URL.
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
        started = CALL_STARTED.findall(log)
        unfinished = set(started) - set(CALL_ENDED.findall(log))
        assert not unfinished, f"calls still going {SETTLE_SECS:g} s after the test: {sorted(unfinished)}"
        assert calls_without_one_report(log, started) == []
        if fakes.reports.status == 200 and not fakes.reports.hang_secs:
            for call_sid, records in call_reports(log).items():
                posted = fakes.reports.reports_for(call_sid)
                assert posted == [r for r in records if r["ended_by"] != "refused"], call_sid


@pytest.fixture
def fresh_server(fakes, tmp_path):
    """Starts servers of the test's own, so what a process does once is counted from its start."""
    started = []

    def start(mode: str, wait_until_ready: bool = True, **settings: str) -> AgentServer:
        log_path = tmp_path / f"{mode}-{len(started)}.log"
        env = {**fakes.env, **settings}
        started.append(AgentServer.start(mode, env, log_path, fakes.twilio, wait_until_ready))
        return started[-1]

    yield start
    for server in started:
        server.stop()
        # A call that ended on the test's own server left one report too.
        assert calls_without_one_report(server.log(), CALL_ENDED.findall(server.log())) == []


@pytest.fixture(scope="session", params=["cloud", "local"])
def agent(request, fakes, tmp_path_factory):
    server = AgentServer.start(
        request.param, fakes.env, tmp_path_factory.mktemp("logs") / f"{request.param}.log", fakes.twilio
    )
    fakes.reset()  # the warm-up's requests belong to no test
    yield server
    server.stop()
