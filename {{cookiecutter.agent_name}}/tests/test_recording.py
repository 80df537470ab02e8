"""Call recording: Twilio records both channels, started through REST as the call begins."""

import pytest

from tests.fakes.twilio_caller import SAMPLE_RATE, read_wav, to_line_audio
from tests.harness import AGENT_DIR
from tests.phone import (
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


def recordings_for(fakes, caller) -> list:
    return [r for r in requests_for(fakes, caller) if r.path.endswith("/Recordings.json")]


def test_recording_starts_in_twilio_as_the_notice_plays(agent, fakes):
    async def scenario():
        async with new_caller(agent, parameters=INBOUND) as caller:
            await caller.start()
            await wait_until(lambda: recordings_for(fakes, caller), what="the recording request")
            await caller.wait_for_audio(2.5)  # the notice (1.7 s), then the greeting
            await caller.hang_up()
            return caller

    caller = run(scenario())
    # The caller first hears the bundled notice, sample for sample (after μ-law on the line).
    notice = read_wav(AGENT_DIR / "audio" / "recording_notice.wav")
    half_a_second = SAMPLE_RATE  # bytes of 16-bit audio
    assert caller.bot_audio()[:half_a_second] == to_line_audio(notice)[:half_a_second]
    recordings = recordings_for(fakes, caller)
    assert len(recordings) == 1
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
            await caller.wait_for_audio(2.5)
            await caller.hang_up()
            return caller

    caller = run(scenario())
    assert hang_ups_for(fakes, caller) == []
    assert_no_secret(agent.log(), fakes)
