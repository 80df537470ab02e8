"""The pipeline of one call with a speech-to-speech model (pipeline=realtime): the model hears the caller,
takes the turns with its own server-side voice detection (or, where it announces none, the agent's Silero VAD
and smart-turn take them: MODEL_TAKES_TURNS), and speaks. bot() builds it, and so do the tests.

The agent's features were written for a text-to-speech: they give the bot words to say as TTSSpeakFrames.
Here SpokenByTheModel turns each into an instruction the model speaks, so every feature works unchanged.
The model speaks at its own rate (24 kHz for OpenAI's); the output transport resamples it to the line's 8 kHz.
"""

import asyncio
import sys
from collections.abc import Callable

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    CancelFrame,
    EndFrame,
    EndWorkerFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMFullResponseStartFrame,
    LLMMessagesAppendFrame,
    LLMRunFrame,
    StartFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import LLMService

import settings
from call_control.feature import CallFeature
from phone.stream import EndedBy, TwilioCall
from phrases import APOLOGY, SAY_EXACTLY
from phrases.recordings import recording
from voice.call_worker import call_context, call_worker
from voice.greeting import Greeting, SpokenOnce
from voice.providers import MODEL_TAKES_TURNS, Providers
from voice.services import Services, close_sdk_clients
from voice.turn_models import TurnModels

# The longest a call's end waits for the model to speak the words asked for before it (a goodbye).
WORDS_TIMEOUT_SECS = 10
MODEL_UNAVAILABLE = "the speech-to-speech model is unavailable"


def build_pipeline(
    call: TwilioCall,
    services: Services,
    features: list[CallFeature],
    greeting: Greeting,
    turn_models: TurnModels,
    idle_timeout_secs: float | None = None,
) -> tuple[PipelineWorker, LLMContext]:
    """The call's worker, ready to run, and the context the model converses in.

    The greeting's cache goes unused: the model speaks the greeting in its own voice as each call starts.
    """
    skip_unparsable_events(services.llm)
    context = call_context(call, services, features)
    # pipecat sees a realtime service here and lets the model's speech events decide the turns; a model
    # without them hears where each turn starts and ends from the turn models, as the cascade's LLM would.
    user_params = None if MODEL_TAKES_TURNS else turn_models.user_turn_params(for_speech_to_speech=True)
    if not MODEL_TAKES_TURNS:
        # pipecat warns, once per service, that local turns are only approximate unless they drive the
        # model's turns: here they do (its own voice detection is off), so the warning would mislead.
        services.llm._warned_realtime_service_no_turn_frames = True
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(context, user_params=user_params)
    pipeline = Pipeline(
        [
            call.transport.input(),
            user_aggregator,
            # After the caller's turns, so that keypad digits reach the model rather than a transcript.
            *[processor for feature in features for processor in feature.processors()],
            AudioAfterConfirmation(call),
            RealtimeGuard(call),
            services.llm,
            SpokenByTheModel(services.llm),
            *[processor for feature in features for processor in feature.speech_processors()],
            call.transport.output(),
            assistant_aggregator,
        ]
    )
    worker = call_worker(pipeline, features, user_aggregator, idle_timeout_secs)
    return worker, context


async def warm_up_voice(providers: Providers, spoken: SpokenOnce, turn_models: TurnModels) -> None:
    """Builds the model's service once, so that its SDK's imports are done before a caller waits, and loads
    the turn models where the agent takes the turns.

    It connects per call, as its pipeline starts; nothing is synthesized ahead.
    """
    if not MODEL_TAKES_TURNS:
        turn_models.load()
    model = providers.create_realtime()
    await close_sdk_clients(model)


def skip_unparsable_events(model: LLMService) -> None:
    """A server message that does not parse ends the receive loop of pipecat's OpenAI-style realtime clients
    (OpenAI, Azure, xAI), and the model goes deaf and mute for the rest of the call; google-genai's session
    (Gemini Live) raises too, and pipecat reconnects, losing the reply under way. Here such a message is
    one warning line and skipped, as pipecat skips the events it has no model for. Installed once."""
    for cls in type(model).__mro__:
        module = sys.modules.get(cls.__module__)
        events = getattr(module, "events", None)
        parse = getattr(events, "parse_server_event", None)
        if parse is not None and not getattr(parse, "skips_unparsable", False):
            events.parse_server_event = skipping_unparsable(parse)
        session = getattr(module, "AsyncSession", None)  # google-genai's, as Gemini Live imports it
        if session is not None and not getattr(session._receive, "skips_unparsable", False):
            session._receive = receiving_past_unparsable(session._receive)


def skipped(error: Exception) -> None:
    reason = str(error).strip().splitlines()[0][:120]
    logger.warning(f"Skipped a message from the speech-to-speech model that does not parse: {reason}")


def skipping_unparsable(parse: Callable) -> Callable:
    def parse_or_skip(message):
        try:
            return parse(message)
        except Exception as error:  # pipecat wraps pydantic's and json's errors alike
            skipped(error)
            return None

    parse_or_skip.skips_unparsable = True
    return parse_or_skip


def receiving_past_unparsable(receive: Callable) -> Callable:
    async def receive_next_that_parses(session):
        while True:
            try:
                return await receive(session)
            except ValueError as error:  # not JSON, or not a LiveServerMessage (pydantic's error)
                skipped(error)
            except TypeError:  # a message kind it does not know: genai raises an error with no code
                skipped(TypeError("a message of a kind google-genai does not know"))

    receive_next_that_parses.skips_unparsable = True
    return receive_next_that_parses


class AudioAfterConfirmation(FrameProcessor):
    """No caller audio reaches the model before Twilio confirms the call (phone/caller_check.py): a forged
    stream is heard by no one. The confirmation comes while the model prepares its greeting."""

    def __init__(self, call: TwilioCall) -> None:
        super().__init__()
        self._call = call

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            verdict = self._call.confirmation
            if verdict is None or not verdict.done() or not verdict.result():
                return
        await self.push_frame(frame, direction)


class SpokenByTheModel(FrameProcessor):
    """Placed right after the model: the words the agent gives the bot to say (TTSSpeakFrame) become an
    instruction the model speaks, and keypad digits (DTMFAggregator's text) reach it as the caller's words.

    Both go into the model itself, as pipecat's realtime services take them mid-call. A call's end
    (EndWorkerFrame) waits until the model has spoken the words asked for before it, at most
    WORDS_TIMEOUT_SECS.
    """

    def __init__(self, model: LLMService) -> None:
        super().__init__()
        self._model = model
        # pipecat's service drops what is appended before its first response has set its session up (it
        # sends the context then): what comes after the first request waits for that response to start.
        self._asked_once = False
        self._model_set_up = False
        self._waiting: list[tuple[str, str]] = []
        self._words_pending = False  # words were asked for and the model has not finished them
        self._speaking_them = False  # the model began speaking after the last request
        self._held_end: EndWorkerFrame | None = None
        self._release: asyncio.Task | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        downstream = direction == FrameDirection.DOWNSTREAM
        if downstream and isinstance(frame, TTSSpeakFrame):
            self._words_pending, self._speaking_them = True, False
            await self._tell_model("developer", SAY_EXACTLY.format(words=frame.text))
        elif downstream and isinstance(frame, TranscriptionFrame):
            # The model's own transcripts of the caller travel upstream: only keypad digits come down here.
            await self._tell_model("user", frame.text)
        elif isinstance(frame, EndWorkerFrame) and self._words_pending and frame.reason != MODEL_UNAVAILABLE:
            if self._held_end is None:  # a second end while the first waits changes nothing
                self._held_end = frame
                self._release = self.create_task(self._release_after_timeout())
        else:
            if isinstance(frame, TTSStartedFrame) and self._words_pending:
                self._speaking_them = True
            await self.push_frame(frame, direction)
            if isinstance(frame, LLMFullResponseStartFrame) and not self._model_set_up:
                self._model_set_up = True
                for role, text in self._waiting:
                    await self._tell_model(role, text)
                self._waiting.clear()
            if isinstance(frame, TTSStoppedFrame) and self._speaking_them:
                self._words_pending = self._speaking_them = False
                await self._push_held_end()
            elif isinstance(frame, (EndFrame, CancelFrame)) and self._release:
                await self.cancel_task(self._release)
                self._release = None

    async def _tell_model(self, role: str, text: str) -> None:
        if self._asked_once and not self._model_set_up:
            self._waiting.append((role, text))
            return
        self._asked_once = True
        await self._model.queue_frame(LLMMessagesAppendFrame(messages=[{"role": role, "content": text}]))
        # Then a run of its own: an append's own run waits while pipecat still counts the caller's turn as
        # open, which it does as a tool answers the turn, and the words would wait for the next turn.
        await self._model.queue_frame(LLMRunFrame())

    async def _release_after_timeout(self) -> None:
        await asyncio.sleep(WORDS_TIMEOUT_SECS)
        self._release = None
        logger.warning(f"{self._model} did not speak the last words in {WORDS_TIMEOUT_SECS} s: ending anyway")
        await self._push_held_end()

    async def _push_held_end(self) -> None:
        if self._held_end:
            held, self._held_end = self._held_end, None
            if self._release and self._release is not asyncio.current_task():
                await self.cancel_task(self._release)
                self._release = None
            await self.push_frame(held)


class RealtimeGuard(FrameProcessor):
    """Sits just before the model: a caller never waits in silence because the model failed.

    - The model reports an error (its connection failed or closed, or it refused the session): only the
      model could speak, so the bot plays the bundled technical-trouble prompt and ends the call.
    - The model stays silent REPLY_TIMEOUT_SECS after the call starts or after the caller spoke: it is
      asked to apologize (APOLOGY); silent once more, the prompt plays and the call ends.
    Each failure is one WARNING line that names the model.
    """

    def __init__(self, call: TwilioCall) -> None:
        super().__init__()
        self._call = call
        self._timeout_secs = settings.REPLY_TIMEOUT_SECS.seconds()
        self._timer: asyncio.Task | None = None
        self._apologized = False
        self._ending = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        downstream = direction == FrameDirection.DOWNSTREAM
        if isinstance(frame, ErrorFrame) and not downstream:
            await self._end_call(f"the speech-to-speech model failed: {frame.error}")
        elif isinstance(frame, (StartFrame, UserStoppedSpeakingFrame)) and downstream:
            self._expect_speech()
        elif isinstance(frame, (BotStartedSpeakingFrame, UserStartedSpeakingFrame)):
            self._apologized = False
            await self._stop_timer()
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop_timer()
        await self.push_frame(frame, direction)

    async def cleanup(self) -> None:
        await self._stop_timer()
        await super().cleanup()

    def _expect_speech(self) -> None:
        if not self._ending and self._timer is None:
            self._timer = self.create_task(self._silent_model())

    async def _stop_timer(self) -> None:
        if self._timer and self._timer is not asyncio.current_task():
            await self.cancel_task(self._timer)
        self._timer = None

    async def _silent_model(self) -> None:
        await asyncio.sleep(self._timeout_secs)
        self._timer = None
        silence = f"the speech-to-speech model said nothing for {self._timeout_secs:g} s"
        if self._apologized:
            await self._end_call(f"{silence}, even after the apology")
            return
        logger.warning(f"Realtime guard: {silence}: asking it to apologize")
        self._call.errors.append(silence)
        self._apologized = True
        await self.push_frame(TTSSpeakFrame(APOLOGY))
        self._expect_speech()

    async def _end_call(self, failure: str) -> None:
        if self._ending:
            return
        self._ending = True
        await self._stop_timer()
        logger.warning(f"Realtime guard: {failure}: playing the technical-trouble prompt and ending the call")
        self._call.ends_as(EndedBy.ERROR)
        self._call.errors.append(failure)
        # Whatever the model had under way is over: a service that holds the call's end until its reply
        # finishes (Gemini Live, up to 30 s) lets it go.
        await self.push_frame(InterruptionFrame())
        await self.push_frame(recording("technical_trouble"))
        await self.push_frame(EndWorkerFrame(reason=MODEL_UNAVAILABLE))
