"""Keypad input: digits reach the LLM as one user message when the caller presses # or pauses."""

from pipecat.processors.aggregators.dtmf_aggregator import DTMFAggregator
from pipecat.processors.frame_processor import FrameProcessor

from call_control.feature import CallFeature


class KeypadInput(CallFeature):
    def processors(self) -> list[FrameProcessor]:
        return [DTMFAggregator(prefix="The caller entered ")]
