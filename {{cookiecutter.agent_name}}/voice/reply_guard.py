"""Makes sure a caller who is waiting for the bot never hears silence forever.

Once the caller stops speaking, the speech-to-text must transcribe them, and once their turn reaches
the LLM, the bot must start speaking, each within REPLY_TIMEOUT_SECS. When a provider fails:
- the LLM errs or hangs, or the text-to-speech stays silent: the bot apologizes (APOLOGY);
- the text-to-speech loses its connection in the middle of a reply (pipecat reconnects, but the rest
  of the reply is gone) or the reply stops halfway: the bot apologizes once the audio that did arrive
  has played;
- the speech-to-text sends no transcript (it hangs, or dropped its connection): the bot asks the caller
  to repeat (NOT_HEARD). A cough gets no transcript either, so a second untranscribed sound in a row
  is answered only if the speech-to-text reported an error since.
If even the apology stays silent, the text-to-speech itself is down: the bot plays the bundled
technical-trouble prompt and ends the call politely, as it does when the speech-to-text gives up.
Each failure is one WARNING line that names the provider.
"""

import asyncio
import time

from loguru import logger
from pipecat.frames.frames import (
    BotSpeakingFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    EndWorkerFrame,
    ErrorFrame,
    Frame,
    FunctionCallInProgressFrame,
    LLMContextAssistantTurnFrame,
    LLMContextFrame,
    OutputAudioRawFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

import settings
from phone.stream import EndedBy, TwilioCall
from phrases import APOLOGY, NOT_HEARD
from phrases.recordings import recording
from voice.services import Services

# What the caller is waiting for: a transcript, a reply, an apology, or the end of a cut reply.
TRANSCRIPT, REPLY, APOLOGY_AUDIO, CUT_REPLY = "transcript", "reply", "apology", "cut reply"
# A cut reply has played what did arrive once the output sends no BotSpeakingFrame (one each 0.2 s) this long.
CUT_REPLY_DRAIN_SECS = 0.5
# How often a due reply checks whether the bot still holds its speech (TwilioCall.speech_held).
HELD_SPEECH_POLL_SECS = 0.1


class ReplyGuard(FrameProcessor):
    """Sits just before the LLM, where replies are requested and errors from the LLM and TTS pass.

    It also listens to the services' events: the transcripts and errors of the speech-to-text (so no
    processor is added on the caller's audio path), and the requests and reconnections of the TTS.
    """

    def __init__(self, services: Services, call: TwilioCall, **kwargs):
        super().__init__(**kwargs)
        self._call = call
        self._stt, self._llm, self._tts = services.stt, services.llm, services.tts
        self._timeout_secs = settings.REPLY_TIMEOUT_SECS.seconds()
        self._timer: asyncio.Task | None = None
        self._due: str | None = None  # TRANSCRIPT, REPLY, APOLOGY_AUDIO or CUT_REPLY, while the timer runs
        self._speaking: str | None = None  # REPLY or APOLOGY_AUDIO: bot speech watched until it ends
        self._reply_over = False  # the LLM's reply is in the context: no more of it is coming
        self._cut: str | None = None  # why the speech being watched lost its end
        self._tts_asked = False  # the TTS got text since the reply was due
        self._apologized = False
        self._heard = False  # the STT transcribed the caller's current utterance
        self._unheard_in_a_row = 0
        self._stt_error: str | None = None  # the STT's last error since it last transcribed
        self._ending = False
        self._prompts_end_at = 0.0
        self._stt.add_event_handler("on_after_push_frame", self._stt_pushed)
        self._stt.add_event_handler("on_error", self._stt_failed)
        self._tts.add_event_handler("on_tts_request", self._tts_requested)
        self._tts.add_event_handler("on_disconnected", self._tts_connection_lost)
        self._tts.add_event_handler("on_connected", self._tts_connection_lost)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        downstream = direction == FrameDirection.DOWNSTREAM
        if isinstance(frame, (EndFrame, CancelFrame)):
            self._ending = True
            await self._settle()
        elif isinstance(frame, LLMContextFrame) and downstream:
            self._speaking, self._cut, self._reply_over, self._tts_asked = None, None, False, False
            await self._expect(REPLY)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._heard = False
            if self._due == TRANSCRIPT:
                await self._disarm()
        elif isinstance(frame, VADUserStoppedSpeakingFrame) and downstream:
            if not self._heard and not self._due:
                await self._expect(TRANSCRIPT)
        elif isinstance(frame, (UserStartedSpeakingFrame, FunctionCallInProgressFrame)):
            await self._settle()  # the caller talks, or a tool runs: nothing is owed now
        elif isinstance(frame, BotStartedSpeakingFrame):
            await self._bot_started()
        elif isinstance(frame, BotSpeakingFrame):
            if self._due == CUT_REPLY:
                await self._expect(CUT_REPLY, CUT_REPLY_DRAIN_SECS)  # still playing what arrived
        elif isinstance(frame, BotStoppedSpeakingFrame):
            await self._bot_stopped()
        elif isinstance(frame, LLMContextAssistantTurnFrame):
            self._reply_over = True
            if self._speaking == REPLY and self._due == REPLY:  # the bot had stopped, waiting for more
                await (self._recover(self._cut) if self._cut else self._settle())
        elif isinstance(frame, OutputAudioRawFrame) and downstream:
            # A bundled prompt on its way out: nobody waits for a reply while it plays.
            seconds = len(frame.audio) / (2 * frame.num_channels * frame.sample_rate)
            self._prompts_end_at = max(self._prompts_end_at, time.monotonic()) + seconds
        elif isinstance(frame, ErrorFrame):
            await self._provider_failed(f"{frame.processor or 'a provider'} failed: {frame.error}")
        await self.push_frame(frame, direction)

    async def cleanup(self):
        await self._disarm()
        await super().cleanup()

    async def _bot_started(self) -> None:
        if self._due in (REPLY, APOLOGY_AUDIO):
            self._speaking = self._due
            if self._due == REPLY:
                self._apologized = False
        if self._cut:
            await self._expect(CUT_REPLY, CUT_REPLY_DRAIN_SECS)
        else:
            await self._disarm()

    async def _bot_stopped(self) -> None:
        if not self._speaking:
            return
        if self._cut:
            await self._recover(self._cut)
        elif self._speaking == APOLOGY_AUDIO or self._reply_over:
            if self._speaking == APOLOGY_AUDIO:
                self._apologized = False  # heard to its end: the TTS works again
            self._speaking = None
        else:
            await self._expect(REPLY)  # a pause inside the reply: the rest must come in time too

    async def _provider_failed(self, failure: str) -> None:
        if self._speaking:
            await self._reply_cut(failure)
        elif self._due in (REPLY, APOLOGY_AUDIO):
            await self._recover(failure)

    async def _reply_cut(self, failure: str) -> None:
        """What has arrived of the reply plays first, then the apology."""
        if not self._cut and not self._ending:
            self._cut = failure
            await self._expect(CUT_REPLY, CUT_REPLY_DRAIN_SECS)

    # Service events: handlers run on the pipeline's event loop.

    async def _stt_pushed(self, stt, frame: Frame) -> None:
        if isinstance(frame, TranscriptionFrame) and frame.text.strip():
            self._heard = True
            self._unheard_in_a_row, self._stt_error = 0, None
            if self._due == TRANSCRIPT:
                await self._disarm()

    async def _stt_failed(self, stt, error: ErrorFrame) -> None:
        self._stt_error = error.error

    async def _tts_requested(self, tts, context_id: str, text: str) -> None:
        self._tts_asked = True

    async def _tts_connection_lost(self, tts) -> None:
        # A connection replaced while a reply is being spoken drops the audio still due on it.
        failure = f"{tts} lost its connection in the middle of the reply"
        if self._speaking:
            await self._reply_cut(failure)
        elif self._due == REPLY and self._tts_asked and not self._cut:
            self._cut = failure  # its first audio may still come: the timer, or the drain, decides

    # The timer.

    async def _expect(self, what: str, seconds: float | None = None) -> None:
        await self._disarm()
        self._due = what
        self._timer = self.create_task(self._wait_for_speech(seconds or self._timeout_secs))

    async def _settle(self) -> None:
        """Nothing is owed: the caller talks, a tool runs, the reply is over, or the call ends."""
        await self._disarm()
        self._speaking = self._cut = None

    async def _disarm(self) -> None:
        self._due = None
        if self._timer:
            timer, self._timer = self._timer, None
            if timer is not asyncio.current_task():
                await self.cancel_task(timer)

    async def _wait_for_speech(self, seconds: float) -> None:
        await asyncio.sleep(seconds + max(0.0, self._prompts_end_at - time.monotonic()))
        if self._call.speech_held:
            # Nothing is late while the bot holds its speech; once it speaks again, the wait starts over.
            while self._call.speech_held:
                await asyncio.sleep(HELD_SPEECH_POLL_SECS)
            await asyncio.sleep(seconds)
        due = self._due
        self._timer = None
        if due == TRANSCRIPT:
            self._due = None
            await self._not_heard()
        else:
            await self._recover(self._silence(due))

    def _silence(self, due: str) -> str:
        within = f"within {self._timeout_secs:g} s"
        if self._cut:
            return self._cut
        if due == APOLOGY_AUDIO:
            return f"no audio from {self._tts} for the apology {within}"
        if self._speaking:
            return f"the reply stopped halfway: no more of it {within}"
        if self._tts_asked:
            return f"no audio from {self._tts} {within} of the reply's text"
        return f"no reply from {self._llm} {within} of the caller's turn"

    # What the caller hears instead.

    async def _recover(self, failure: str) -> None:
        await self._settle()
        if self._ending:
            return
        # Cancel whatever is stuck (a hung LLM request, a half-spoken reply) before speaking.
        await self.broadcast_interruption()
        if self._apologized:
            await self._say_goodbye(f"{failure}, after an apology")
            return
        logger.warning(f"Reply guard: {failure}: apologizing")
        self._call.errors.append(failure)
        await self._apologize(APOLOGY)

    async def _not_heard(self) -> None:
        after = f"{self._timeout_secs:g} s after the caller spoke"
        if not self._stt.is_usable:
            await self._say_goodbye(f"{self._stt} can no longer transcribe")
        elif self._unheard_in_a_row == 0 or self._stt_error:
            reported = f" (it reported: {self._stt_error})" if self._stt_error else ""
            logger.warning(f"Reply guard: no transcript from {self._stt} {after}{reported}: asking to repeat")
            self._call.errors.append(f"no transcript from {self._stt}{reported}")
            await self._apologize(NOT_HEARD)
        else:
            logger.debug(f"Reply guard: no transcript {after} again, from a working {self._stt}: noise")
        self._unheard_in_a_row += 1
        self._stt_error = None

    async def _apologize(self, text: str) -> None:
        self._apologized = True
        await self.push_frame(TTSSpeakFrame(text))
        await self._expect(APOLOGY_AUDIO)

    async def _say_goodbye(self, failure: str) -> None:
        logger.warning(f"Reply guard: {failure}: playing the technical-trouble prompt and ending the call")
        self._ending = True
        self._call.ends_as(EndedBy.ERROR)
        self._call.errors.append(failure)
        await self.push_frame(recording("technical_trouble"))
        await self.push_frame(EndWorkerFrame(reason="providers unavailable"))
