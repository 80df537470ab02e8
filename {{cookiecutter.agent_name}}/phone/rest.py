"""Requests to Twilio's REST API, made with the twilio SDK's async client.

TWILIO_API_BASE_URL sends them to another endpoint (a regional host, a proxy, a test fake), as it
does for the serializer's hang-up. Every failure (an error answer, no answer) becomes one
TwilioRequestError whose message never holds a credential.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TypeVar

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

import settings

Result = TypeVar("Result")


class TwilioRequestError(RuntimeError):
    """A Twilio REST request failed; the message says why, without secrets."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # Twilio's HTTP status; None when it did not answer


async def with_timeout(request: Awaitable[Result]) -> Result:
    """The SDK's async client applies no timeout of its own, so each request gets this one."""
    return await asyncio.wait_for(request, settings.TWILIO_API_TIMEOUT_SECS.seconds())


@asynccontextmanager
async def twilio_api() -> AsyncIterator[Client]:
    try:
        client = Client(*settings.twilio_credentials(), http_client=AsyncTwilioHttpClient())
        settings.TWILIO_API_TIMEOUT_SECS.seconds()
    except settings.MissingSetting as error:  # the call goes on; the request is what failed
        raise TwilioRequestError(str(error)) from None
    base_url = settings.TWILIO_API_BASE_URL.value()
    if base_url:
        # Used verbatim, like the serializer does: edge and region would rewrite the host.
        client.api.base_url = base_url.rstrip("/")
        client.edge = client.region = None
    try:
        yield client
    except TwilioRestException as error:
        raise TwilioRequestError(
            f"Twilio answered {error.status} (code {error.code}): {error.msg}", error.status
        ) from error
    except TwilioException as error:
        # A list request's failed page: the SDK raises its base class, with the response as an argument.
        response = next((arg for arg in error.args if hasattr(arg, "status_code")), None)
        status = response.status_code if response is not None else None
        raise TwilioRequestError(f"Twilio answered {status}: {error.args[0]}", status) from error
    except (TimeoutError, aiohttp.ClientError) as error:
        within = settings.TWILIO_API_TIMEOUT_SECS.value()
        raise TwilioRequestError(
            f"Twilio did not answer within {within}s ({type(error).__name__})"
        ) from error
    finally:
        await client.http_client.close()
