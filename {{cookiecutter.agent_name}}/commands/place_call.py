"""Places an outbound call to this agent: python -m commands.place_call +15551234567 --name Alice

The callee's TwiML is built inline by phone/twiml.py, the source of twiml/outbound.xml, or fetched
from a TwiML Bin with --twiml-bin-url. TWILIO_PHONE_NUMBER (or --from) is the calling number.
"""

import argparse
import asyncio
import sys

from dotenv import load_dotenv

import settings
from phone.numbers import is_phone_number
from phone.rest import TwilioRequestError, twilio_api, with_timeout
from phone.twiml import stream_twiml
from settings import MissingSetting


async def place_call(to: str, from_: str, *, twiml: str | None = None, url: str | None = None) -> str:
    """Places a call whose TwiML is given inline, or fetched from a URL such as a TwiML Bin's."""
    instructions = {"twiml": twiml} if twiml else {"url": url}
    async with twilio_api() as client:
        call = await with_timeout(client.calls.create_async(to=to, from_=from_, **instructions))
    return call.sid


def e164(number: str) -> str:
    if not is_phone_number(number):
        raise argparse.ArgumentTypeError(f"{number!r} is not an E.164 number such as +15551234567")
    return number


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("to", type=e164, help="the number to call, in E.164 form")
    parser.add_argument(
        "--from", dest="from_", type=e164, help="the calling Twilio number (TWILIO_PHONE_NUMBER)"
    )
    parser.add_argument("--name", default="", help="the callee's name, for the bot's opening line")
    parser.add_argument(
        "--param", action="append", default=[], help="another <Parameter> for the bot, NAME=VALUE"
    )
    parser.add_argument(
        "--twiml-bin-url", help="use this TwiML Bin (twiml/outbound.xml) instead of inline TwiML"
    )
    args = parser.parse_args()
    load_dotenv()

    from_ = args.from_ or settings.TWILIO_PHONE_NUMBER.value()
    if not from_:
        print("error: set TWILIO_PHONE_NUMBER in .env or pass --from +1...", file=sys.stderr)
        return 2
    parameters = {"direction": "outbound", "from_number": from_, "to_number": args.to}
    parameters |= {"callee_name": args.name} if args.name else {}
    parameters |= dict(item.split("=", 1) for item in args.param)
    try:
        if args.twiml_bin_url:
            sid = asyncio.run(place_call(args.to, from_, url=args.twiml_bin_url))
        else:
            sid = asyncio.run(place_call(args.to, from_, twiml=stream_twiml(parameters)))
    except (TwilioRequestError, MissingSetting) as error:
        print(f"error: the call was not placed: {error}", file=sys.stderr)
        return 1
    print(f"Calling {args.to} from {from_}: call {sid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
