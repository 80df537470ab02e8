"""Phone calls against the real bot, served both ways, over a real WebSocket, with every peer faked."""

import asyncio
import json
import time

import pytest

from env_settings import MissingSetting
from tests.conftest import FAKE_TWILIO_AUTH_TOKEN
from tests.fakes.twilio_caller import FakeTwilioCaller


def call(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def test_greets_the_caller(agent, fakes):
    async def scenario():
        parameters = {"from_number": "+15550001111", "to_number": "+15550002222"}
        async with FakeTwilioCaller(agent.url, parameters=parameters) as caller:
            await caller.start()
            silence = asyncio.create_task(caller.send_silence(3))
            media = await caller.wait_for("media", count=5, timeout=20)
            silence.cancel()
            await caller.hang_up()
            return caller, media

    caller, media = call(scenario())
    assert all(item.message["streamSid"] == caller.stream_sid for item in media)
    assert len(caller.bot_audio()) > 0
    assert any("Hello" in text for text in fakes.cartesia.transcripts)


def test_caller_hang_up_ends_the_call_cleanly(agent, fakes):
    async def scenario():
        async with FakeTwilioCaller(agent.url, call_sid="CA" + "7" * 32) as caller:
            await caller.start()
            await caller.wait_for("media", timeout=20)
            await caller.hang_up()
        # Give the bot time to notice and tear the pipeline down.
        await asyncio.sleep(1.5)
        return caller

    caller = call(scenario())
    assert f"Call {caller.call_sid}: the caller hung up" in agent.log()
    assert "Traceback" not in agent.log()
    hang_ups = [r for r in fakes.twilio.hang_ups() if caller.call_sid in r.path]
    assert len(hang_ups) <= 1
    for request in hang_ups:
        assert request.username == caller.account_sid
        assert FAKE_TWILIO_AUTH_TOKEN not in request.path


def test_malformed_frames_do_not_end_the_call(agent, fakes):
    async def scenario():
        async with FakeTwilioCaller(agent.url, call_sid="CA" + "5" * 32) as caller:
            await caller.start()
            await caller.wait_for("media", timeout=20)
            junk = [
                "{not json",
                json.dumps({"event": "no-such-event", "streamSid": caller.stream_sid}),
                json.dumps({"event": "media", "media": {"payload": "!!not-base64!!"}}),
                b"\xff\x00 binary frame",
            ]
            for frame in junk:
                await caller.send(frame)
            junk_sent_at = time.monotonic()
            # The greeting is still playing: more of it must arrive after the junk.
            await caller.send_silence(1.0)
            await caller.hang_up()
        return caller, junk_sent_at

    caller, junk_sent_at = call(scenario())
    assert any(item.at > junk_sent_at + 0.2 for item in caller.events("media"))
    assert "Ignoring a malformed Twilio frame" in agent.log()
    hang_ups = [r for r in fakes.twilio.hang_ups() if caller.call_sid in r.path]
    assert len(hang_ups) <= 1


def test_missing_twilio_credentials_fail_with_a_clear_message(monkeypatch):
    from twilio_stream import twilio_credentials

    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with pytest.raises(MissingSetting, match=r"^TWILIO_AUTH_TOKEN not set: .*\.env"):
        twilio_credentials()
