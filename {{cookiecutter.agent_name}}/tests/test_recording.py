"""Call recording: Twilio records both channels, started through REST as the caller hears the notice."""

import asyncio

import pytest

import settings
from phrases import RECORDING_NOTICE
from tests.calling import (
    INBOUND,
    QUESTION,
    REST_FAILURES,
    SLOW_TWILIO_ANSWER_SECS,
    assert_no_secret,
    hang_ups_for,
    new_caller,
    question,
    rest_failure,
    run,
    wait_until,
)
from tests.fakes.twilio_caller import SAMPLE_RATE
from tests.fakes.twilio_rest import RestFailure
from tests.faults import CUTS, assert_cut_cleanly


def recordings_for(fakes, caller) -> list:
    return [r for r in fakes.twilio.requests if r.path.endswith(f"/Calls/{caller.call_sid}/Recordings.json")]


def recorded_call(server, *, say: bytes | None = None, wait: float = 0.0):
    """One inbound call that hears the opening (and says `say`), then hangs up."""

    async def scenario():
        async with new_caller(server, parameters=INBOUND) as caller:
            await caller.start()
            if say:
                await caller.say(say)
            else:
                await caller.wait_for("media", timeout=20)
                await caller.wait_for_quiet()
            await asyncio.sleep(wait)
            await caller.hang_up()
            return caller

    return run(scenario())


def test_recording_starts_in_twilio_as_the_notice_plays(agent, fakes):
    caller = recorded_call(agent)
    recordings = recordings_for(fakes, caller)
    assert len(recordings) == 1
    # Twilio plays the cached opening in real time from its first media: the recording starts while it plays.
    opening_starts = caller.events("media")[0].at
    opening_secs = len(caller.bot_audio()) / (2 * SAMPLE_RATE)
    assert opening_starts - 0.5 < recordings[0].at < opening_starts + opening_secs
    assert recordings[0].method == "POST"
    assert recordings[0].form == {"RecordingChannels": "dual"}
    call_path = f"/2010-04-01/Accounts/{caller.account_sid}/Calls/{caller.call_sid}"
    assert recordings[0].path == f"{call_path}/Recordings.json"


def test_a_notice_spoken_live_starts_before_the_recording(fresh_server, fakes):
    fakes.break_tts()
    server = fresh_server("cloud")  # the warm-up could not synthesize the opening
    fakes.reset()
    fakes.slow_tts(1.5)  # the live notice starts well after the call connected
    caller = recorded_call(server)

    assert fakes.spoken()[0].startswith(RECORDING_NOTICE)  # what the caller heard first
    [recording] = recordings_for(fakes, caller)
    assert recording.at > caller.events("media")[0].at - 0.3  # not before the notice started


def test_a_call_whose_notice_never_plays_is_not_recorded(fresh_server, fakes):
    fakes.break_tts()  # for good: neither the warm-up nor the call can speak the notice
    server = fresh_server("cloud")
    fakes.caller_will_say(QUESTION)
    caller = recorded_call(server, say=question(), wait=1.0)

    assert recordings_for(fakes, caller) == []
    assert f"Call {caller.call_sid}: not recorded: the recording notice did not play" in server.log()


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
    assert_no_secret(agent.log())


def while_the_recording_starts(answer_after: float):
    async def reach(agent, fakes, caller) -> None:
        fakes.twilio.failure = RestFailure(match="/Recordings.json", status=None, delay=answer_after)
        await caller.start()
        await wait_until(lambda: recordings_for(fakes, caller), what="the recording request")

    return reach


@pytest.mark.parametrize("kind", CUTS)
def test_a_dead_line_while_the_recording_starts_ends_the_call_cleanly(agent, fakes, kind):
    reach = while_the_recording_starts(answer_after=SLOW_TWILIO_ANSWER_SECS)
    caller, seconds = assert_cut_cleanly(agent, fakes, kind, reach)
    print(f"{kind} at the recording start: the call ended {seconds:.2f} s later")
    assert len(recordings_for(fakes, caller)) == 1


def test_a_dead_line_does_not_wait_for_twilio_to_answer_the_recording(fresh_server, fakes, monkeypatch):
    monkeypatch.setitem(fakes.env, "TWILIO_API_TIMEOUT_SECS", settings.TWILIO_API_TIMEOUT_SECS.default)
    server = fresh_server("cloud")
    fakes.reset()
    # Twilio answers within the production timeout, but well after the line died.
    reach = while_the_recording_starts(answer_after=float(settings.TWILIO_API_TIMEOUT_SECS.default) - 2)
    _, seconds = assert_cut_cleanly(server, fakes, "reset", reach)
    print(f"reset at a slow recording start: the call ended {seconds:.2f} s later")
