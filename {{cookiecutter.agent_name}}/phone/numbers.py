"""Phone numbers in E.164 form (+15551234567), the only form Twilio's REST API and <Dial> accept."""

import re

E164 = re.compile({{ cookiecutter._phone_number_pattern | literal }})


def is_phone_number(text: str) -> bool:
    # The whole text: a trailing newline or anything after the number makes it no number.
    return E164.fullmatch(text) is not None
