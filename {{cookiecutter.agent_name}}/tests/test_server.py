"""server.py, the self-hosted server, run as `python server.py` with 2 workers against the fakes.

The tests reach it on 127.0.0.1 while Twilio would call PUBLIC_URL, as through a load balancer: every
signature is computed, with Twilio's own algorithm, for the public URL.
"""

import asyncio
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from twilio.request_validator import RequestValidator
from websockets.exceptions import InvalidStatus

from phrases import APOLOGY
from tests.calling import INBOUND, QUESTION, ask, assert_no_secret, hear_greeting, new_caller, run, wait_until
from tests.harness import AGENT_DIR, FAKE_ACCOUNT_SID, FAKE_TWILIO_AUTH_TOKEN, AgentServer

PUBLIC_URL = "https://agent.example.test"
STREAM_URL = "wss://agent.example.test/ws"
WORKERS = 2
ANSWER = "We open at nine tomorrow."
CALL_FORM = {
    "AccountSid": FAKE_ACCOUNT_SID,
    "CallSid": "CA" + "7" * 32,
    "CallStatus": "ringing",
    "Direction": "inbound",
    "From": "+15550001111",
    "To": "+15550002222",
}


def signed(url: str, params: dict[str, str] | None = None, token: str = FAKE_TWILIO_AUTH_TOKEN) -> dict:
    """The X-Twilio-Signature header Twilio sends for `url` and its POST parameters."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params or {})}


def post_webhook(server: AgentServer, form: dict, headers: dict, query: str = "") -> tuple[int, str]:
    request = urllib.request.Request(
        f"{server.http_url}/{query}",
        data=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, ""


def readiness(server: AgentServer) -> int:
    try:
        with urllib.request.urlopen(f"{server.http_url}/readyz", timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


async def upgrade_refusal(server: AgentServer, headers: dict) -> int:
    """The HTTP status with which the server refused a Media Stream's WebSocket upgrade."""
    with pytest.raises(InvalidStatus) as refused:
        async with new_caller(server, headers=headers):
            pass
    return refused.value.response.status_code


def streamed(document: str) -> tuple[str, dict[str, str]]:
    """The Stream URL and the <Parameter>s of a TwiML answer."""
    stream = ElementTree.fromstring(document).find("Connect/Stream")
    return stream.get("url"), {item.get("name"): item.get("value") for item in stream.findall("Parameter")}


@pytest.fixture(scope="module")
def server(fakes, tmp_path_factory):
    settings = {"PUBLIC_URL": PUBLIC_URL, "SERVER_WORKERS": str(WORKERS)}
    started = AgentServer.start(
        "server", {**fakes.env, **settings}, tmp_path_factory.mktemp("logs") / "server.log", fakes.twilio
    )
    fakes.reset()  # the warm-up's requests belong to no test
    yield started
    started.stop()


def test_unsigned_and_forged_upgrades_are_refused_with_403(server, fakes):
    forgeries = {
        "no signature": {},
        "another key": signed(STREAM_URL, token="not-the-auth-token"),
        # The URL the server itself sees: Twilio signs the public one.
        "the internal URL": signed(server.url),
    }

    async def scenario():
        return {name: await upgrade_refusal(server, headers) for name, headers in forgeries.items()}

    assert run(scenario()) == dict.fromkeys(forgeries, 403)
    log = server.log()
    assert "Refused a Media Stream from 127.0.0.1: no X-Twilio-Signature header" in log
    assert log.count(f"X-Twilio-Signature does not match {STREAM_URL}") == 2
    assert_no_secret(log)


def test_unsigned_and_forged_webhooks_are_refused_with_403(server, fakes):
    tampered = {**CALL_FORM, "From": "+15559990000"}
    attempts = {
        "no signature": (CALL_FORM, {}),
        "another key": (CALL_FORM, signed(f"{PUBLIC_URL}/", CALL_FORM, token="not-the-auth-token")),
        "changed parameters": (tampered, signed(f"{PUBLIC_URL}/", CALL_FORM)),
    }

    statuses = {name: post_webhook(server, form, headers)[0] for name, (form, headers) in attempts.items()}
    assert statuses == dict.fromkeys(attempts, 403)
    log = server.log()
    assert "Refused a voice webhook from 127.0.0.1: no X-Twilio-Signature header" in log
    assert log.count(f"X-Twilio-Signature does not match {PUBLIC_URL}/ ") == 2
    assert_no_secret(log)


def test_a_signed_webhook_streams_the_call_to_the_public_url(server):
    status, document = post_webhook(server, CALL_FORM, signed(f"{PUBLIC_URL}/", CALL_FORM))

    assert status == 200
    url, parameters = streamed(document)
    assert url == STREAM_URL
    # As the TwiML Bin fills its {% raw %}{{From}} and {{To}}{% endraw %}; no Pipecat Cloud parameter.
    assert parameters == {"direction": "inbound", "from_number": "+15550001111", "to_number": "+15550002222"}
{%- if cookiecutter.outbound_calls == "yes" %}


def test_an_outbound_call_gets_the_outbound_parameters_and_the_query(server):
    # commands/place_call.py --twiml-bin-url https://agent.example.test/?callee_name=Alice
    form = {**CALL_FORM, "Direction": "outbound-api", "From": "+15550009999", "To": "+15551234567"}
    query = "?callee_name=Alice"

    status, document = post_webhook(server, form, signed(f"{PUBLIC_URL}/{query}", form), query)

    assert status == 200
    assert streamed(document)[1] == {
        "direction": "outbound",
        "from_number": "+15550009999",
        "to_number": "+15551234567",
        "callee_name": "Alice",
    }
{%- endif %}


def test_a_signed_upgrade_is_accepted_and_the_caller_greeted(server, fakes):
    async def scenario():
        async with new_caller(server, parameters=INBOUND, headers=signed(STREAM_URL)) as caller:
            await hear_greeting(caller)
            await caller.hang_up()
            return caller

    caller = run(scenario())
    assert caller.bot_audio()
    assert f"Call {caller.call_sid} started" in server.log()
    assert APOLOGY not in fakes.spoken()


def exit_code(server: AgentServer, within_secs: float = 30) -> int:
    """The server's exit code once it stops; a server still running shows its log's end in the failure."""
    try:
        return server.process.wait(within_secs)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server still runs {within_secs:g} s later; its log ends:\n{server.log()[-3000:]}")


def test_sigterm_lets_the_call_in_progress_end_then_the_server_exits_0(fresh_server, fakes):
    server = fresh_server("server", PUBLIC_URL=PUBLIC_URL, SERVER_WORKERS=str(WORKERS))
    fakes.caller_will_say(QUESTION)
    fakes.openai.answers = {QUESTION: ANSWER}

    async def scenario():
        async with new_caller(server, parameters=INBOUND, headers=signed(STREAM_URL)) as caller:
            await hear_greeting(caller)
            server.process.send_signal(signal.SIGTERM)
            # The supervisor relays it: every worker drains, the one with no call exits.
            await wait_until(lambda: server.log().count("Draining:") == WORKERS, what="every worker's drain")
            assert await asyncio.to_thread(readiness, server) == 503
            assert await upgrade_refusal(server, signed(STREAM_URL)) == 503
            webhook_signature = signed(f"{PUBLIC_URL}/", CALL_FORM)
            webhook = await asyncio.to_thread(post_webhook, server, CALL_FORM, webhook_signature)
            assert webhook[0] == 503
            # The call in progress carries on: the caller asks, the bot answers.
            await ask(caller)
            await wait_until(lambda: ANSWER in fakes.spoken(), what="the bot's answer")
            assert server.process.poll() is None
            await caller.hang_up()

    run(scenario())
    assert exit_code(server) == 0
    log = server.log()
    assert "1 call(s) in progress carry on" in log
    assert "No call in progress: stopping" in log


def test_a_call_still_going_at_the_drain_timeout_is_ended_and_the_server_exits_0(fresh_server):
    server = fresh_server("server", PUBLIC_URL=PUBLIC_URL, SERVER_WORKERS="1", DRAIN_TIMEOUT_SECS="1")

    async def scenario():
        async with new_caller(server, parameters=INBOUND, headers=signed(STREAM_URL)) as caller:
            await hear_greeting(caller)
            server.process.send_signal(signal.SIGTERM)
            # The deadline is the behaviour under test: 1 s, plus the relay and the shutdown.
            await wait_until(lambda: caller.closed, timeout=10, what="the server to end the call")

    run(scenario())
    assert exit_code(server) == 0
    assert "DRAIN_TIMEOUT_SECS passed: ending the 1 call(s) in progress" in server.log()


def test_with_the_check_off_an_unsigned_call_is_accepted_and_the_start_log_says_so(fresh_server):
    server = fresh_server("server", PUBLIC_URL=PUBLIC_URL, TWILIO_SIGNATURE_CHECK="off")

    async def scenario():
        async with new_caller(server, parameters=INBOUND) as caller:
            await hear_greeting(caller)
            await caller.hang_up()
            return caller

    assert run(scenario()).bot_audio()
    assert "TWILIO_SIGNATURE_CHECK=off: requests are not checked" in server.log()


@pytest.mark.parametrize(
    "setting, value",
    [
        ("PUBLIC_URL", ""),
        ("PUBLIC_URL", "http://agent.example.test"),
        ("SERVER_WORKERS", "two"),
        ("SERVER_WORKERS", "²"),  # a digit to str.isdigit(), not to int()
        ("TWILIO_SIGNATURE_CHECK", "maybe"),
    ],
)
def test_a_bad_setting_stops_the_server_with_one_line(fakes, setting, value):
    env = {**fakes.env, "PUBLIC_URL": PUBLIC_URL, setting: value}
    result = subprocess.run(
        [sys.executable, "server.py"], cwd=AGENT_DIR, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and setting in errors[0], result.stderr
    assert "Traceback" not in result.stderr
