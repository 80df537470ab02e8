"""Services built ahead on a worker thread (or by each call), and the warm-up's garbage-collector freeze.

These tests check behaviour, not timing.
"""

import asyncio
import gc
import threading

import pytest
from loguru import logger

from phrases import OPENING
from settings import MissingSetting
from startup.process import AgentProcess
from startup.services_ahead import BUILT_AHEAD, BUILT_BY_THE_CALL, ServicesAhead
from tests.calling import QUESTION, one_question_call, run, wait_until
from tests.serve_agent import FactoryFakes
from voice.providers import SERVICES_BUILT_AHEAD


class ThreadRecordingProviders:
    """Providers whose every build notes the thread it ran on."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def create_services(self) -> str:
        self.threads.append(threading.current_thread())
        return "services"


class MissingKeyProviders(FactoryFakes):
    def __init__(self, missing: str) -> None:
        super().__init__(swapped=["stt", "llm", "tts"])
        self.missing = missing

    def fail(self):
        name = f"SOME_{self.missing.upper()}_API_KEY"
        raise MissingSetting(f"{name} is not set: add it to .env (see .env.example)")

    def create_stt(self):
        return self.fail() if self.missing == "stt" else super().create_stt()

    def create_tts(self):
        return self.fail() if self.missing == "tts" else super().create_tts()

    def create_services(self):
        return self.fail()


def test_each_call_takes_the_services_built_ahead_and_starts_the_next_build():
    providers = ThreadRecordingProviders()
    ahead = ServicesAhead(providers, built_ahead=True)

    async def two_calls():
        first = await ahead.take()
        second = await ahead.take()
        return threading.current_thread(), first, second

    loop_thread, first, second = run(two_calls())
    ahead._next.result(timeout=10)  # the build the second call started for the next one
    assert first == second == "services"
    # Three builds: each call's, then the one the second call started for the next call.
    assert len(providers.threads) == 3
    # Never on the event loop, where it would stall every call's audio.
    assert loop_thread not in providers.threads


def test_services_that_bind_to_the_event_loop_are_built_by_each_call_on_its_own():
    providers = ThreadRecordingProviders()
    ahead = ServicesAhead(providers, built_ahead=False)

    async def two_calls():
        await ahead.build_the_first()  # nothing to build ahead
        first, second = await ahead.take(), await ahead.take()
        return threading.current_thread(), first, second

    loop_thread, first, second = run(two_calls())
    assert first == second == "services"
    assert providers.threads == [loop_thread, loop_thread]


def test_a_missing_key_stops_the_call_with_the_line_that_names_it():
    ahead = ServicesAhead(MissingKeyProviders("stt"))
    ahead.build_next()  # fails ahead, too
    with pytest.raises(MissingSetting, match="SOME_STT_API_KEY is not set"):
        run(ahead.take())
    with pytest.raises(MissingSetting, match="SOME_STT_API_KEY is not set"):
        run(ahead.take())


def test_calls_that_arrive_together_are_all_answered(agent, fakes):
    fakes.caller_will_say(QUESTION, QUESTION)
    log_before = len(agent.log())

    async def together():
        return await asyncio.gather(one_question_call(agent), one_question_call(agent))

    callers = run(together())
    for caller in callers:
        run(wait_until(lambda c=caller: f"Call {c.call_sid} ended" in agent.log(), what="the call to end"))
    log = agent.log()[log_before:]
    # Each took a build started ahead of it: the first, one that may still be running (the previous
    # test's last call started it moments ago); the second, the one the first had just started.
    if SERVICES_BUILT_AHEAD:
        assert log.count(BUILT_AHEAD) + log.count("already being built") == 2
    else:  # each call built its own, on its loop
        assert log.count(BUILT_BY_THE_CALL) == 2
    # Both calls were answered.
    asked = [r for r in fakes.openai.chat_requests if {"role": "user", "content": QUESTION} in r["messages"]]
    assert len(asked) == 2


def test_the_warm_up_freezes_what_lives_as_long_as_the_process(fakes, monkeypatch):
    monkeypatch.setenv("FAKE_OPENAI_URL", fakes.env["FAKE_OPENAI_URL"])
    process = AgentProcess(FactoryFakes(swapped=["stt", "llm", "tts"]))
    gc.unfreeze()
    try:
        run(process.warm_up())
        assert process.spoken.audio(OPENING)  # the warm-up went all the way through
        assert gc.get_freeze_count() > 0  # later full collections skip what it left
    finally:
        gc.unfreeze()


def test_a_missing_tts_key_leaves_the_greeting_to_the_calls(fakes, monkeypatch):
    monkeypatch.setenv("FAKE_OPENAI_URL", fakes.env["FAKE_OPENAI_URL"])
    process = AgentProcess(MissingKeyProviders("tts"))
    warnings = []
    handler = logger.add(warnings.append, level="WARNING")
    try:
        run(process.warm_up())
    finally:
        logger.remove(handler)
        gc.unfreeze()
    assert process.spoken.audio(OPENING) is None  # calls speak it live, and then report the missing key
    assert any("Greeting not synthesized at warm-up (MissingSetting" in message for message in warnings)


def test_a_missing_setting_does_not_stop_the_warm_up():
    errors = []
    handler = logger.add(errors.append, level="ERROR")
    try:
        # The server still starts; each call then stops with the line that names the key.
        asyncio.run(AgentProcess(MissingKeyProviders("stt")).warm_up())
    finally:
        logger.remove(handler)
    assert any("Not warmed up: SOME_STT_API_KEY is not set" in message for message in errors)
