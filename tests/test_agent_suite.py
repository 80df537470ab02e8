"""Runs generated agents' whole test suites, as their README tells a team to.

Every catalog provider also holds a conversation offline in tests/test_bake.py's provider bakes: by a
protocol fake (a local server speaking its API) or, where none exists, by a factory fake (tests.serve_agent
swaps the service for an OpenAI-protocol one pointed at the fake OpenAI server).
"""

import re

import pytest

ALL_OPTIONS_ON = dict.fromkeys(["call_transfer", "call_recording", "dtmf_input", "outbound_calls"], "yes")
WHOLE_SUITES = [
    pytest.param({}, id="default-all-protocol-fakes"),
    # With the warm transfer, whose tests no other suite runs (the every-option one's is cold).
    pytest.param(
        {"stt": "assemblyai", "llm": "anthropic", "tts": "elevenlabs"}
        | {"call_transfer": "yes", "transfer_mode": "warm"},
        id="all-factory-fakes-warm-transfer",
    ),
    pytest.param(ALL_OPTIONS_ON, id="every-call-control-option-on"),
    # The speech-to-speech pipeline, against the fake OpenAI Realtime API, with the features it takes.
    pytest.param(
        {"pipeline": "realtime", "call_transfer": "yes", "call_recording": "yes"},
        id="realtime-protocol-fake-transfer-recording",
    ),
]


@pytest.mark.parametrize("answers", WHOLE_SUITES)
def test_agent_suite_passes_and_no_output_holds_a_secret(bake, answers, tmp_path):
    project = bake(**answers)
    # -rA prints what every test captured; the agent servers' logs stay under the base temp folder.
    outputs = tmp_path / "agent-suite"
    result = project.run_agent_suite("-rA", f"--basetemp={outputs}")
    summary = result.stdout.strip().splitlines()[-1]
    # Every scenario of the agent's suite, both ways; none skipped or left out.
    assert re.search(r"\d+ passed", summary), summary
    assert "deselected" not in summary, summary

    secrets = project.planted_secrets()
    leaks = [f"the suite's output: {secret}" for secret in secrets if secret in result.stdout + result.stderr]
    # Logs, reports, saved audio, build contexts: every file the suite wrote. And the agent's own files,
    # but for its tests, which plant the fake secrets.
    # A .env holds secrets by design (tests/test_deploy.py fills one): it never leaves the machine but
    # through the secret set upload.
    written = [path for path in outputs.rglob("*") if path.is_file() and path.name != ".env"]
    written += [path for path in project.files(skip=("tests",)) if ".venv" not in path.parts]
    for path in written:
        content = path.read_bytes()
        leaks += [f"{path}: {secret}" for secret in secrets if secret.encode() in content]
    assert len(written) > 10 and len(secrets) >= 4
    assert leaks == []
