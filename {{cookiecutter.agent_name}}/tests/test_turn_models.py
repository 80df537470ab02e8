"""The shared-model analyzers decide exactly like pipecat's own, and keep each call's state apart."""

import asyncio

from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer

from tests.calling import question
from voice.turn_models import TurnModels

SAMPLE_RATE = 8000
MODELS = TurnModels()


def windows(audio: bytes, size: int) -> list[bytes]:
    return [audio[i : i + size] for i in range(0, len(audio) - size + 1, size)]


def test_vad_confidences_match_pipecats_silero_call_by_call():
    speech = question()
    other_call = speech[::-1]  # a second call with different audio, fed in between
    stock, stock_other = SileroVADAnalyzer(), SileroVADAnalyzer()
    shared, shared_other = MODELS.vad_analyzer(), MODELS.vad_analyzer()
    for analyzer in (stock, stock_other, shared, shared_other):
        analyzer.set_sample_rate(SAMPLE_RATE)
    size = stock.num_frames_required() * 2

    for mine, theirs in zip(windows(speech, size), windows(other_call, size), strict=True):
        assert shared.voice_confidence(mine) == stock.voice_confidence(mine)
        assert shared_other.voice_confidence(theirs) == stock_other.voice_confidence(theirs)
    assert shared._model.session is shared_other._model.session  # one model in memory


def test_vad_states_match_pipecats_frame_by_frame():
    """The shared analyzer runs on the event loop; pipecat's on a thread. The states must not differ."""

    async def states(analyzer, other, audio: bytes) -> list:
        for each in (analyzer, other):
            each.set_sample_rate(SAMPLE_RATE)
        found = []
        for frame, other_frame in zip(windows(audio, 320), windows(audio[::-1], 320), strict=True):
            found.append(await analyzer.analyze_audio(frame))  # 20 ms frames, as Twilio sends them
            await other.analyze_audio(other_frame)  # another call in between (reversed bytes: noise)
        return found

    audio = bytes(3200) + question() + bytes(8000)
    stock = asyncio.run(states(SileroVADAnalyzer(), SileroVADAnalyzer(), audio))
    shared = asyncio.run(states(MODELS.vad_analyzer(), MODELS.vad_analyzer(), audio))
    assert shared == stock
    assert {state.name for state in stock} >= {"QUIET", "SPEAKING"}  # the audio exercises both


def test_turn_decisions_match_pipecats_smart_turn():
    async def decide(analyzer) -> tuple:
        analyzer.set_sample_rate(SAMPLE_RATE)
        for chunk in windows(question(), 320):
            analyzer.append_audio(chunk, is_speech=True)
        analyzer.append_audio(bytes(320), is_speech=False)
        state, metrics = await analyzer.analyze_end_of_turn()
        return state, getattr(metrics, "probability", None)

    stock = asyncio.run(decide(LocalSmartTurnAnalyzerV3()))
    shared = asyncio.run(decide(MODELS.turn_analyzer()))
    assert shared == stock
    assert MODELS.turn_analyzer()._session is MODELS.turn_analyzer()._session


def test_each_call_gets_its_own_analyzers():
    first, second = MODELS.user_turn_params(), MODELS.user_turn_params()
    assert first.vad_analyzer is not second.vad_analyzer
    [first_stop], [second_stop] = first.user_turn_strategies.stop, second.user_turn_strategies.stop
    assert first_stop is not second_stop
