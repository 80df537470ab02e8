"""The simulator a person runs: a call with a WAV file, the bot's audio saved, a timeline printed."""

import re
import subprocess
import sys
import wave
from pathlib import Path

from tests.calling import assert_no_secret
from tests.harness import AGENT_DIR


def test_simulator_saves_the_bot_audio_and_prints_a_timeline(tmp_path):
    saved = tmp_path / "bot.wav"
    question = Path(__file__).parent / "audio" / "question.wav"
    result = subprocess.run(
        [sys.executable, "-m", "commands.simulate", "--wav", str(question), "--save", str(saved)],
        cwd=AGENT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^\s+\d+ ms  greeting: first bot audio$", result.stdout, re.MULTILINE)
    assert re.search(r"turn 1: first reply audio, latency \d+ ms", result.stdout)
    assert f"bot audio saved to {saved}" in result.stdout
    # The report and the log of the agent it served, which lives outside the tests' folders.
    assert_no_secret(result.stdout + result.stderr)
    assert_no_secret(Path(re.search(r"^agent log: (.+)$", result.stdout, re.M)[1]).read_text())
    with wave.open(str(saved)) as wav_file:
        assert wav_file.getframerate() == 8000
        assert wav_file.getnframes() > 8000  # more than a second of the bot talking
