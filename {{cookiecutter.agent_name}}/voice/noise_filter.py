"""Krisp VIVA noise filtering of the caller's audio, before speech detection and speech-to-text hear it.

Pipecat Cloud provides the Krisp SDK and its telephony model to agents whose pcc-deploy.toml has
`[krisp_viva] audio_filter = "tel"`. Where the SDK is absent (local runs, a self-hosted server) the
filter is off: one line says so, and calls go on unfiltered.
"""

import importlib.util
from functools import cache

from loguru import logger
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams

from call_control.feature import CallFeature
from phone.stream import TwilioCall

KRISP_SDK = "krisp_audio"


@cache
def krisp_sdk_present() -> bool:
    """Looked up once per process; importing pipecat's filter without the SDK would log errors instead."""
    if importlib.util.find_spec(KRISP_SDK) is None:
        logger.info(f"Noise filter off: no Krisp SDK ({KRISP_SDK}) here; Pipecat Cloud provides it")
        return False
    return True


class NoiseFilter(CallFeature):
    def __init__(self, call: TwilioCall) -> None:
        self._call = call

    def shape_transport(self, params: FastAPIWebsocketParams) -> None:
        if not krisp_sdk_present():
            return
        from pipecat.audio.filters.krisp_viva_filter import KrispVivaFilter

        try:
            # The model's path and the license come from the environment Pipecat Cloud sets.
            params.audio_in_filter = KrispVivaFilter()
        except Exception as error:  # no model, no license: the caller is still heard, unfiltered
            logger.warning(f"Call {self._call.call_sid}: noise filter off ({type(error).__name__}: {error})")
