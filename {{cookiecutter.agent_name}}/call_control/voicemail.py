"""Calls the bot placed that reach an answering machine: the bot never talks over its greeting, leaves
phrases.VOICEMAIL_MESSAGE once the greeting and its beep are over, and hangs up once.

pipecat's VoicemailDetector asks the call's own LLM whether what the callee said is a person ("Hello?")
or a recorded greeting, and holds the bot's speech back until the callee has been quiet for
DECISION_SECS. A person then hears the bot's reply; a machine gets the message MESSAGE_DELAY_SECS after
its greeting (and any beep heard as sound) ended. A callee who has not started to speak IDLE_TIMEOUT_SECS
after the call connected is a person holding the line (a machine would have started its greeting): the
bot's speech is released, and the idle check-in follows. Calls the bot answers are not checked.
"""

import asyncio

from loguru import logger
from pipecat.classifiers.llm.classifier import LLMClassifier
from pipecat.extensions.voicemail.voicemail_detector import VoicemailDetector
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregator
from pipecat.processors.frame_processor import FrameProcessor

import settings
from call_control.feature import CallFeature, say_goodbye
from phone.stream import EndedBy, TwilioCall
from phrases import VOICEMAIL_MESSAGE
from voice.greeting import Greeting
from voice.services import Services

# Quiet after the callee's words before the verdict: what a person waits for the bot's reply, at most.
DECISION_SECS = 1.0
# Quiet after a machine's greeting before the message starts: a beep comes within it.
MESSAGE_DELAY_SECS = 2.0
# A verdict the LLM has not given by then counts as a person: the call goes on.
CLASSIFIER_TIMEOUT_SECS = 5.0


class CalleeDetector(VoicemailDetector):
    async def decide_person(self) -> None:
        """A verdict without words, which pipecat's detector never reaches (its private API, pipecat 1.14)."""
        if not self._decision:
            await self._decide("conversation")


class AnsweringMachine(CallFeature):
    def __init__(self, call: TwilioCall) -> None:
        self._call = call
        self._detector: CalleeDetector | None = None
        self._callee_spoke = False

    def shape_greeting(self, greeting: Greeting) -> None:
        if self._checks_the_callee:
            greeting.may_play_ahead = False  # a recording notice, say, is held like the rest

    @property
    def _checks_the_callee(self) -> bool:
        """A call the bot placed, on its first stream: back from a transfer, the callee is known."""
        return self._call.is_outbound and not self._call.is_back_from_transfer

    def use_services(self, services: Services) -> None:
        if not self._checks_the_callee:
            return
        self._call.speech_held = True
        self._detector = CalleeDetector(
            classifier=LLMClassifier(llm=services.llm, timeout=CLASSIFIER_TIMEOUT_SECS),
            decision_timeout=DECISION_SECS,
            voicemail_response_delay=MESSAGE_DELAY_SECS,
        )
        self._detector.add_event_handler("on_conversation_detected", self._person_answered)
        self._detector.add_event_handler("on_voicemail_detected", self._leave_message)

    def watch_caller(self, user_aggregator: LLMUserAggregator) -> None:
        if self._detector:
            user_aggregator.add_event_handler("on_user_turn_started", self._callee_speaks)

    async def on_connected(self) -> None:
        silent_secs = settings.IDLE_TIMEOUT_SECS.seconds()
        if self._detector and silent_secs > 0:
            # The detector's task: it ends with the call.
            self._detector.create_task(self._person_if_silent(silent_secs))

    def processors(self) -> list[FrameProcessor]:
        return [self._detector] if self._detector else []

    def speech_processors(self) -> list[FrameProcessor]:
        return [self._detector.gate()] if self._detector else []

    async def _person_answered(self, detector: VoicemailDetector) -> None:
        self._call.speech_held = False
        logger.info(f"Call {self._call.call_sid}: a person answered")

    async def _callee_speaks(self, aggregator: LLMUserAggregator, strategy) -> None:
        self._callee_spoke = True

    async def _person_if_silent(self, silent_secs: float) -> None:
        await asyncio.sleep(silent_secs)
        if not self._callee_spoke:
            logger.info(f"Call {self._call.call_sid}: the callee has said nothing for {silent_secs:g} s")
            await self._detector.decide_person()

    async def _leave_message(self, detector: VoicemailDetector) -> None:
        logger.info(f"Call {self._call.call_sid}: an answering machine answered; leaving the message")
        await say_goodbye(detector, self._call, VOICEMAIL_MESSAGE, EndedBy.VOICEMAIL)
