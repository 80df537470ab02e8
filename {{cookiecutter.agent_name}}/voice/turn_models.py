"""Silero VAD and smart-turn v3, loaded once per process and shared by every call.

pipecat builds a new ONNX session for each analyzer: about 60 ms per call on 2 cores, and one more
copy of both models in memory per call. An ONNX session is stateless and safe to share between
threads, so each call here gets its own analyzers (their per-call state: the VAD's recurrent state
and buffers, smart-turn's audio buffer and timers) over the two sessions the process loads once. The
models, their parameters and the turn detection are exactly pipecat's defaults.
"""

import copy

from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADState
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregatorParams
from pipecat.turns.user_start import VADUserTurnStartStrategy
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies


class SharedSileroVADAnalyzer(SileroVADAnalyzer):
    """pipecat's Silero VAD with its own state over the process's one model session."""

    def __init__(self, loaded: SileroVADAnalyzer) -> None:
        # Mirrors SileroVADAnalyzer.__init__ (pipecat 1.14) minus the model load; test_turn_models checks it.
        VADAnalyzer.__init__(self)
        self._model = copy.copy(loaded._model)
        self._model.reset_states()
        self._windows_since_reset = 0
        self._low_confidence_windows = 0

    async def analyze_audio(self, buffer: bytes) -> VADState:
        # pipecat hands each 20 ms frame to the analyzer's executor thread. On 8 kHz audio, Silero's inference
        # (one per 32 ms) takes about 0.1 ms, less than that hand-off: measured with 10 calls listening,
        # running it here cut the bot's CPU by a fifth, and the decisions are the same code's.
        return self._run_analyzer(buffer)


class SharedSmartTurnAnalyzerV3(LocalSmartTurnAnalyzerV3):
    """pipecat's smart-turn v3 with its own audio buffer over the process's one model session."""

    def __init__(self, loaded: LocalSmartTurnAnalyzerV3) -> None:
        # Mirrors LocalSmartTurnAnalyzerV3.__init__ (pipecat 1.14) minus the model load.
        BaseSmartTurn.__init__(self)
        self._log_data = loaded._log_data
        self._session = loaded._session


class TurnModels:
    """The process's one Silero VAD session and one smart-turn session, loaded on first use."""

    def __init__(self) -> None:
        self._vad: SileroVADAnalyzer | None = None
        self._smart_turn: LocalSmartTurnAnalyzerV3 | None = None

    def load(self) -> None:
        """Loads both models now (at warm-up) rather than in the first call; about 0.4 s on 2 cores."""
        self._vad = self._vad or SileroVADAnalyzer()
        self._smart_turn = self._smart_turn or LocalSmartTurnAnalyzerV3()

    def vad_analyzer(self) -> SharedSileroVADAnalyzer:
        self.load()
        return SharedSileroVADAnalyzer(self._vad)

    def turn_analyzer(self) -> SharedSmartTurnAnalyzerV3:
        self.load()
        return SharedSmartTurnAnalyzerV3(self._smart_turn)

    def user_turn_params(self, for_speech_to_speech: bool = False) -> LLMUserAggregatorParams:
        """Silero VAD plus smart-turn v3, pipecat's default turn taking, for one call.

        A speech-to-speech model transcribes after it hears the turn: there, a transcript neither starts a
        turn nor is waited for at its end (what pipecat would otherwise change, with a warning).
        """
        stop = TurnAnalyzerUserTurnStopStrategy(
            turn_analyzer=self.turn_analyzer(), wait_for_transcript=not for_speech_to_speech
        )
        start = [VADUserTurnStartStrategy()] if for_speech_to_speech else None
        strategies = UserTurnStrategies(start=start, stop=[stop])
        return LLMUserAggregatorParams(vad_analyzer=self.vad_analyzer(), user_turn_strategies=strategies)
