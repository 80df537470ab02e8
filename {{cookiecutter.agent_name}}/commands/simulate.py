"""Call the agent without a phone: speak WAV files or text into it, save what it says, time each turn.

  python -m commands.simulate --say "What time do you open tomorrow?"   # local agent, fake providers
  python -m commands.simulate --real --wav question.wav --save bot.wav    # local agent, keys from .env

WAV input must be 8 kHz 16-bit mono; --say needs espeak-ng. Without --url the simulator serves the
agent itself, the way Pipecat Cloud does, and fakes Twilio's REST API, which knows the simulated call,
so no real call is touched. It uses the fakes of the agent's tests. A deployed agent refuses the
simulator's call: it asks the real Twilio, which never connected it (phone/caller_check.py).
"""

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

from dotenv import dotenv_values

from tests.fakes.background import BackgroundServers
from tests.fakes.twilio_caller import SAMPLE_RATE, FakeTwilioCaller, media_pcm, read_wav, to_line_rate
from tests.fakes.twilio_rest import FakeTwilioRest
from tests.harness import AGENT_DIR, AgentServer, start_fakes


def speak(text: str) -> bytes:
    """Text spoken by espeak-ng, as 8 kHz 16-bit PCM."""
    if not shutil.which("espeak-ng"):
        raise SystemExit("error: --say needs espeak-ng (apt-get install espeak-ng); or pass --wav FILE")
    with tempfile.NamedTemporaryFile(suffix=".wav") as output:
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", output.name, text], check=True)
        with wave.open(output.name) as spoken:
            pcm, rate = spoken.readframes(spoken.getnframes()), spoken.getframerate()
    return to_line_rate(pcm, rate)


def save_bot_audio(caller: FakeTwilioCaller, path: Path) -> None:
    """The bot's side of the call on the call's own clock, silences included."""
    track = bytearray()
    for item in caller.events("media"):
        chunk = media_pcm(item.message)
        position = int((item.at - caller.started_at) * SAMPLE_RATE) * 2
        track.extend(b"\0" * max(0, position - len(track)))
        track.extend(chunk)
    with wave.open(str(path), "wb") as wav_file:
        wav_file.setnchannels(1)
        wav_file.setsampwidth(2)
        wav_file.setframerate(SAMPLE_RATE)
        wav_file.writeframes(bytes(track))


async def converse(
    url: str, utterances: list[bytes], parameters: dict[str, str], quiet: float, twilio: FakeTwilioRest | None
) -> tuple:
    events: list[tuple[float, str]] = []
    async with FakeTwilioCaller(url, parameters=parameters) as caller:
        if twilio:
            # The fake Twilio knows the call it connects, so the agent's caller check confirms it.
            twilio.start_call(caller.call_sid, caller.account_sid)
        await caller.start()
        first = await caller.wait_for("media", timeout=30)
        events.append((first[0].at, "greeting: first bot audio"))
        await caller.wait_for_quiet(quiet, timeout=60)
        for number, pcm in enumerate(utterances, 1):
            began = time.monotonic()
            events.append((began, f"turn {number}: caller starts speaking"))
            ended = await caller.say(pcm)
            events.append((ended, f"turn {number}: caller stops speaking"))
            reply = await caller.wait_for("media", after=began, timeout=60)
            latency = reply[0].at - ended
            if latency < 0:
                events.append((reply[0].at, f"turn {number}: bot answered before the caller finished"))
            else:
                events.append(
                    (reply[0].at, f"turn {number}: first reply audio, latency {latency * 1000:.0f} ms")
                )
            await caller.wait_for_quiet(quiet, timeout=60)
        hung_up_at = time.monotonic()
        await caller.hang_up()
        events.append((hung_up_at, "caller hangs up"))
    for clear in caller.events("clear"):
        # Twilio `clear` drops the bot's queued audio: the caller started to speak (a barge-in if
        # the bot was talking).
        talking = any(0 < clear.at - media.at < 0.3 for media in caller.events("media"))
        events.append((clear.at, "barge-in: bot audio cleared" if talking else "clear (bot was quiet)"))
    timeline = [f"{(at - caller.started_at) * 1000:7.0f} ms  {what}" for at, what in sorted(events)]
    return caller, timeline


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", help="call this WebSocket instead of serving the local agent (its Twilio must know the call)"
    )
    parser.add_argument("--real", action="store_true", help="local agent with the real providers in .env")
    parser.add_argument("--wav", action="append", default=[], type=Path, help="an utterance (repeatable)")
    parser.add_argument("--say", action="append", default=[], help="an utterance spoken by espeak-ng")
    parser.add_argument("--param", action="append", default=[], help="a TwiML <Parameter>, NAME=VALUE")
    parser.add_argument("--save", type=Path, default=Path("bot.wav"), help="where to write the bot's audio")
    parser.add_argument("--quiet", type=float, default=0.8, help="seconds of bot silence that end its turn")
    args = parser.parse_args()

    utterances = [read_wav(path) for path in args.wav] + [speak(text) for text in args.say]
    parameters = dict(item.split("=", 1) for item in args.param)
    servers, server, fakes = None, None, None
    url = args.url
    if not url:
        servers = BackgroundServers()
        fakes = start_fakes(servers)
        # The fake speech-to-text hears the words of --say, or a stand-in for a WAV file.
        fakes.caller_will_say(*[f"(speech from {path.name})" for path in args.wav], *args.say)
        env = fakes.env
        if args.real:
            real = {k: v for k, v in dotenv_values(AGENT_DIR / ".env").items() if v}
            env = {
                **real,
                "PYTHON_DOTENV_DISABLED": "1",
                "TWILIO_API_BASE_URL": fakes.env["TWILIO_API_BASE_URL"],
                # The account the fake Twilio connects the call for.
                "TWILIO_ACCOUNT_SID": fakes.env["TWILIO_ACCOUNT_SID"],
            }
        server = AgentServer.start("cloud", env, Path(tempfile.mkdtemp()) / "agent.log")
        url = server.url
    try:
        twilio = fakes.twilio if fakes else None
        caller, timeline = asyncio.run(converse(url, utterances, parameters, args.quiet, twilio))
    finally:
        if server:
            server.stop()
            print(f"agent log: {server.log_path}")
    save_bot_audio(caller, args.save)
    print("\n".join(["timeline (from the Twilio `start` message):", *timeline]))
    if fakes:
        print("Twilio REST requests:")
        for request in fakes.twilio.requests:
            print(f"  {request.method} {request.path} {request.form}")
        if not fakes.twilio.requests:
            print("  none")
        servers.close()
    print(f"bot audio saved to {args.save}")


if __name__ == "__main__":
    sys.exit(main())
