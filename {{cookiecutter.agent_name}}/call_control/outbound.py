"""Calls the bot placed (commands/place_call.py): the callee speaks first ("Hello?"), then the bot."""

from call_control.feature import CallFeature
from phone.stream import TwilioCall
from phrases import CALLEE_INSTRUCTION, GREETING
from voice.greeting import Greeting


class CalleeSpeaksFirst(CallFeature):
    def __init__(self, call: TwilioCall) -> None:
        self._call = call

    def shape_greeting(self, greeting: Greeting) -> None:
        if self._call.is_outbound and not self._call.is_back_from_transfer:
            name = self._call.parameters.get("callee_name") or "the person who answers"
            greeting.phrases = [phrase for phrase in greeting.phrases if phrase != GREETING]
            greeting.instruction = CALLEE_INSTRUCTION.format(name=name)
