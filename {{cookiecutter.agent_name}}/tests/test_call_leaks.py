"""Calls leave nothing behind in the process that served them: after eight calls one after another, it
holds the same descriptors (sockets among them), threads, asyncio tasks and call pipelines in memory
as after the second.

Served the Pipecat Cloud way: the test host reports these from inside the process (GET /resources).
"""

import json
import time
import urllib.request

from tests.calling import QUESTION, one_question_call, run, wait_until

CALLS = 8
SETTLED_READS_APART_SECS = 0.5


def held_resources(agent) -> dict[str, int]:
    url = agent.url.replace("ws://", "http://").removesuffix("/ws") + "/resources"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def settled_resources(agent, timeout: float = 10.0) -> dict[str, int]:
    """The counts once two reads half a second apart agree: the last call has been torn down."""
    deadline = time.monotonic() + timeout
    last = held_resources(agent)
    while time.monotonic() < deadline:
        time.sleep(SETTLED_READS_APART_SECS)
        now = held_resources(agent)
        if now == last:
            return now
        last = now
    return last


def wait_for_end(agent, call_sid: str) -> None:
    line = f"Call {call_sid} ended"
    run(wait_until(lambda: line in agent.log(), what=f"'{line}' in the log"))


def test_eight_calls_hold_what_two_did(fakes, fresh_server):
    agent = fresh_server("cloud")
    after_second = None
    for number in range(1, CALLS + 1):
        fakes.caller_will_say(QUESTION)
        caller = run(one_question_call(agent))
        wait_for_end(agent, caller.call_sid)
        if number == 2:
            after_second = settled_resources(agent)
    assert settled_resources(agent) == after_second
