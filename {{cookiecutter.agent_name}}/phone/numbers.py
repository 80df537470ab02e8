"""Phone numbers in E.164 form (+15551234567), the only form Twilio's REST API and <Dial> accept."""

import re

E164 = re.compile({{ cookiecutter._phone_number_pattern | literal }})


def is_phone_number(text: str) -> bool:
    return bool(E164.match(text))
