"""Call recording: Twilio records both channels, started through REST as the call begins."""

import pytest

from phrases import OPENING, RECORDING_NOTICE
from tests.calling import (
    INBOUND,
    REST_FAILURES,
    assert_no_secret,
    hang_ups_for,
    new_caller,
    requests_for,
    rest_failure,
    run,
    wait_until,
)
from tests.fakes.twilio_caller import SAMPLE_RATE


def recordings_for(fakes, caller) -> list:
    return [r for r in requests_for(fakes, caller) if r.path.endswith("/Recordings.json")]


def test_recording_starts_in_twilio_as_the_notice_plays(agent, fakes):
    async def scenario():
        async with new_caller(agent, parameters=INBOUND) as caller:
            await caller.start()
            await wait_until(lambda: recordings_for(fakes, caller), what="the recording request")
            await caller.wait_for("media")
            await caller.wait_for_quiet()  # the opening: the notice, then the greeting
            await caller.hang_up()
            return caller

    caller = run(scenario())
    assert OPENING[0] == RECORDING_NOTICE  # the caller hears the notice before anything else
    recordings = recordings_for(fakes, caller)
    assert len(recordings) == 1
    # Twilio plays the opening in real time from its first media: the recording starts while it plays.
    opening_starts = caller.events("media")[0].at
    opening_secs = len(caller.bot_audio()) / (2 * SAMPLE_RATE)
    assert opening_starts <= recordings[0].at + 0.5 and recordings[0].at < opening_starts + opening_secs
    assert recordings[0].method == "POST"
    assert recordings[0].form == {"RecordingChannels": "dual"}
    call_path = f"/2010-04-01/Accounts/{caller.account_sid}/Calls/{caller.call_sid}"
    assert recordings[0].path == f"{call_path}/Recordings.json"


@pytest.mark.parametrize("failure_name", REST_FAILURES)
def test_failed_recording_leaves_the_call_up(agent, fakes, failure_name):
    fakes.twilio.failure = rest_failure(failure_name, match="/Recordings.json")

    async def scenario():
        async with new_caller(agent, parameters=INBOUND) as caller:
            await caller.start()
            logged = f"Call {caller.call_sid}: recording did not start"
            await wait_until(lambda: logged in agent.log(), what="the log line")
            await caller.wait_for("media")
            await caller.hang_up()
            return caller

    caller = run(scenario())
    assert hang_ups_for(fakes, caller) == []
    assert_no_secret(agent.log(), fakes)
