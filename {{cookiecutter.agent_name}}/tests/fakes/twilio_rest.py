"""A fake Twilio REST API: records every request (method, path, form, auth) and answers like Twilio."""

import base64
from dataclasses import dataclass

from aiohttp import web


@dataclass
class TwilioRequest:
    method: str
    path: str
    form: dict[str, str]
    username: str | None


class FakeTwilioRest:
    def __init__(self) -> None:
        self.requests: list[TwilioRequest] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/2010-04-01/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.requests.append(TwilioRequest(request.method, request.path, form, _basic_auth_user(request)))
        sid = request.path.rsplit("/", 1)[-1].removesuffix(".json")
        return web.json_response({"sid": sid, "status": form.get("Status", "in-progress")})

    def hang_ups(self) -> list[TwilioRequest]:
        return [r for r in self.requests if r.method == "POST" and r.form.get("Status") == "completed"]


def _basic_auth_user(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    return base64.b64decode(header[6:]).decode().split(":", 1)[0]
