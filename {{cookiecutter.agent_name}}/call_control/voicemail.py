"""Calls the bot placed that reach an answering machine: the bot never talks over its greeting, leaves
phrases.VOICEMAIL_MESSAGE once the greeting and its beep are over, and hangs up once.

pipecat's VoicemailDetector asks the call's own LLM whether what the callee said is a person ("Hello?")
or a recorded greeting, and holds the bot's speech back until the callee has been quiet for
DECISION_SECS. A person then hears the bot's reply; a machine gets the message MESSAGE_DELAY_SECS after
its greeting (and any beep heard as sound) ended. A callee who says nothing for IDLE_TIMEOUT_SECS is a
person holding the line (a machine would have played its greeting): they hear the idle check-in. Calls
the bot answers are not checked.
"""

from loguru import logger
from pipecat.classifiers.llm.classifier import LLMClassifier
from pipecat.extensions.voicemail.voicemail_detector import VoicemailDetector
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregator
from pipecat.processors.frame_processor import FrameProcessor

from call_control.feature import CallFeature, say_goodbye
from phone.stream import EndedBy, TwilioCall
from phrases import VOICEMAIL_MESSAGE
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

    def use_services(self, services: Services) -> None:
        if not self._call.is_outbound:
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
            user_aggregator.add_event_handler("on_user_turn_idle", self._callee_silent)

    def processors(self) -> list[FrameProcessor]:
        return [self._detector] if self._detector else []

    def speech_processors(self) -> list[FrameProcessor]:
        return [self._detector.gate()] if self._detector else []

    async def _person_answered(self, detector: VoicemailDetector) -> None:
        self._call.speech_held = False
        logger.info(f"Call {self._call.call_sid}: a person answered")

    async def _callee_silent(self, aggregator: LLMUserAggregator) -> None:
        await self._detector.decide_person()

    async def _leave_message(self, detector: VoicemailDetector) -> None:
        logger.info(f"Call {self._call.call_sid}: an answering machine answered; leaving the message")
        await say_goodbye(detector, self._call, VOICEMAIL_MESSAGE, EndedBy.VOICEMAIL)
