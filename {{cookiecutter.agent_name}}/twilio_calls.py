"""Requests to Twilio's REST API, made with the twilio SDK's async client.

TWILIO_API_BASE_URL sends them to another endpoint (a regional host, a proxy, a test fake), as it
does for the serializer's hang-up. Every failure (an error answer, no answer) becomes one
TwilioRequestError whose message never holds a credential.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TypeVar

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from env_settings import twilio_credentials

TIMEOUT_SECS = float(os.getenv("TWILIO_API_TIMEOUT_SECS", "10"))
Result = TypeVar("Result")


class TwilioRequestError(RuntimeError):
    """A Twilio REST request failed; the message says why, without secrets."""


async def with_timeout(request: Awaitable[Result]) -> Result:
    """The SDK's async client applies no timeout of its own, so each request gets this one."""
    return await asyncio.wait_for(request, TIMEOUT_SECS)


@asynccontextmanager
async def twilio_api() -> AsyncIterator[Client]:
    account_sid, auth_token = twilio_credentials()
    client = Client(account_sid, auth_token, http_client=AsyncTwilioHttpClient())
    base_url = os.getenv("TWILIO_API_BASE_URL", "").strip()
    if base_url:
        # Used verbatim, like the serializer does: edge and region would rewrite the host.
        client.api.base_url = base_url.rstrip("/")
        client.edge = client.region = None
    try:
        yield client
    except TwilioRestException as error:
        raise TwilioRequestError(
            f"Twilio answered {error.status} (code {error.code}): {error.msg}"
        ) from error
    except (TimeoutError, aiohttp.ClientError) as error:
        raise TwilioRequestError(
            f"Twilio did not answer within {TIMEOUT_SECS}s ({type(error).__name__})"
        ) from error
    finally:
        await client.http_client.close()
{%- if cookiecutter.call_recording == "yes" %}


async def start_recording(call_sid: str) -> str:
    """Records both sides of the live call in Twilio, not on this container's ephemeral disk."""
    async with twilio_api() as client:
        recordings = client.calls(call_sid).recordings
        recording = await with_timeout(recordings.create_async(recording_channels="dual"))
    return recording.sid
{%- endif %}
{%- if cookiecutter.call_transfer == "yes" %}


async def redirect_call(call_sid: str, twiml: str) -> None:
    """Replaces the live call's TwiML: Twilio ends the media stream and follows the new instructions."""
    async with twilio_api() as client:
        await with_timeout(client.calls(call_sid).update_async(twiml=twiml))
{%- endif %}
{%- if cookiecutter.outbound_calls == "yes" %}


async def place_call(to: str, from_: str, *, twiml: str | None = None, url: str | None = None) -> str:
    """Places a call whose TwiML is given inline, or fetched from a URL such as a TwiML Bin's."""
    instructions = {"twiml": twiml} if twiml else {"url": url}
    async with twilio_api() as client:
        call = await with_timeout(client.calls.create_async(to=to, from_=from_, **instructions))
    return call.sid
{%- endif %}
