"""Points a Twilio phone number at a TwiML Bin: python -m commands.number_setup +15551234567 --bin-url URL

Twilio has no public API that creates TwiML Bins: create the Bin in the Console from twiml/, copy
its URL, and this command does the rest of the console steps. It shows the number's current voice
configuration first and changes nothing without a confirmation (or --yes).
"""

import argparse
import asyncio
import sys

from dotenv import load_dotenv

from phone.rest import TwilioRequestError, twilio_api, with_timeout
from settings import MissingSetting


async def point_number(number: str, bin_url: str, confirmed: bool) -> int:
    async with twilio_api() as client:
        matches = await with_timeout(client.incoming_phone_numbers.list_async(phone_number=number, limit=1))
        if not matches:
            print(f"error: {number} is not a phone number of this Twilio account", file=sys.stderr)
            return 1
        current = matches[0]
        print(f"{current.phone_number} ({current.friendly_name})")
        print(f"  now: calls go to {current.voice_method} {current.voice_url}")
        if current.voice_url == bin_url:
            print("Already pointed at that TwiML Bin: nothing to change.")
            return 0
        if not confirmed:
            if not sys.stdin.isatty():
                print("error: not changed; confirm with --yes when there is no terminal", file=sys.stderr)
                return 1
            if input(f"Point it at {bin_url}? [y/N] ").strip().lower() not in ("y", "yes"):
                print("Not changed.")
                return 1
        number_resource = client.incoming_phone_numbers(current.sid)
        await with_timeout(number_resource.update_async(voice_url=bin_url, voice_method="POST"))
    print(f"{number} now sends its calls to {bin_url}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("number", help="your Twilio number, in E.164 form")
    parser.add_argument("--bin-url", required=True, help="the TwiML Bin's URL, from the Twilio Console")
    parser.add_argument("--yes", action="store_true", help="change it without asking")
    args = parser.parse_args()
    load_dotenv()
    try:
        return asyncio.run(point_number(args.number, args.bin_url, args.yes))
    except (TwilioRequestError, MissingSetting) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
