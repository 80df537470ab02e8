"""A fake Twilio REST API: records every request (method, path, form, auth, query) and answers like Twilio.

It serves the resources the agent uses: Calls (create, list, fetch, update), a call's Recordings,
Conferences (list) and IncomingPhoneNumbers (list, update). It knows the calls that exist, as Twilio
does: those it created, and those a test's caller registered with `start_call()`; any other CallSid is
a 404. A call that has ended cannot be redirected (Twilio's error 21220).
`failure` makes matching requests fail or hang.
"""

import asyncio
import base64
import itertools
import re
import time
from dataclasses import dataclass, field

from aiohttp import web

ACCOUNT = r"/2010-04-01/Accounts/{account}"


@dataclass
class TwilioRequest:
    method: str
    path: str
    form: dict[str, str]
    username: str | None
    query: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when it arrived, on the tests' clock
    created_sid: str | None = None  # the SID of the call it placed, if it placed one


RECORD = web.RequestKey("record", TwilioRequest)  # each request's record, for its handler to complete


@dataclass
class RestFailure:
    """Requests whose `METHOD path form-keys query-keys` contain `match` get `status` (None: answer) after
    `delay`."""

    match: str
    status: int | None = 500
    delay: float = 0.0


@dataclass
class FakeTwilioRest:
    numbers: list[dict] = field(default_factory=list)
    requests: list[TwilioRequest] = field(default_factory=list)
    failure: RestFailure | None = None
    calls: dict[str, dict] = field(default_factory=dict)  # CallSid -> the Call resource
    # What becomes of the calls it places, once placed: answered ("in-progress"), "ringing" on and on,
    # or ended unanswered ("busy", "no-answer", "failed").
    placed_calls_become: str = "in-progress"
    # Who answers them, as answering-machine detection says (Call.answered_by): "human", "machine_start".
    placed_calls_answered_by: str = "human"
    # A person who answers a call whose TwiML enters a conference joins it, which starts the conference.
    colleagues_join: bool = True
    conferences: dict[str, dict] = field(default_factory=dict)  # FriendlyName -> the Conference resource

    def __post_init__(self) -> None:
        self._sids = itertools.count(1)
        self.app = web.Application(middlewares=[self._record_and_fail])
        self.app.router.add_post(ACCOUNT + "/Calls.json", self.create_call)
        self.app.router.add_get(ACCOUNT + "/Calls.json", self.list_calls)
        self.app.router.add_get(ACCOUNT + "/Calls/{call}.json", self.fetch_call)
        self.app.router.add_post(ACCOUNT + "/Calls/{call}.json", self.update_call)
        self.app.router.add_post(ACCOUNT + "/Calls/{call}/Recordings.json", self.create_recording)
        self.app.router.add_get(ACCOUNT + "/Conferences.json", self.list_conferences)
        self.app.router.add_get(ACCOUNT + "/IncomingPhoneNumbers.json", self.list_numbers)
        self.app.router.add_post(ACCOUNT + "/IncomingPhoneNumbers/{number}.json", self.update_number)

    @web.middleware
    async def _record_and_fail(self, request: web.Request, handler):
        form = {key: str(value) for key, value in (await request.post()).items()}
        user, query = _basic_auth_user(request), dict(request.query)
        request[RECORD] = TwilioRequest(request.method, request.path, form, user, query)
        self.requests.append(request[RECORD])
        failure = self.failure
        if failure and failure.match in f"{request.method} {request.path} {sorted(form)} {sorted(query)}":
            await asyncio.sleep(failure.delay)
            if failure.status:
                error = {"code": 20500, "message": "Injected failure", "status": failure.status}
                return web.json_response(error, status=failure.status)
        return await handler(request)

    def reset(self) -> None:
        """No failure; the recorded requests stay, and each test finds its own by CallSid."""
        self.failure = None
        self.placed_calls_become = "in-progress"
        self.placed_calls_answered_by = "human"
        self.colleagues_join = True

    def _sid(self, prefix: str) -> str:
        # "fa": never one of the SIDs the tests' callers number from 1 (tests/calling.py).
        return f"{prefix}fa{next(self._sids):030d}"

    def start_call(self, call_sid: str, account_sid: str, direction: str = "inbound") -> None:
        """A call Twilio has connected, as when a phone rings the number and the stream opens."""
        self.calls[call_sid] = _call_resource(call_sid, account_sid, direction, "in-progress")

    def dial_leg(self, parent_call_sid: str, status: str) -> str:
        """The leg a <Dial> placed from a call, ended as `status` (busy, no-answer, completed, ...)."""
        parent = self.calls[parent_call_sid]
        leg = _call_resource(self._sid("CA"), parent["account_sid"], "outbound-dial", status)
        self.calls[leg["sid"]] = {**leg, "parent_call_sid": parent_call_sid}
        return leg["sid"]

    async def list_calls(self, request: web.Request) -> web.Response:
        """Twilio lists the most recent calls first; ParentCallSid keeps the legs a call placed."""
        account, parent = request.match_info["account"], request.query.get("ParentCallSid")
        found = [
            call
            for call in reversed(self.calls.values())
            if call["account_sid"] == account and parent in (None, call.get("parent_call_sid"))
        ]
        page_size = int(request.query.get("PageSize", "50"))
        return web.json_response({"calls": found[:page_size], "next_page_uri": None, "page": 0})

    async def create_call(self, request: web.Request) -> web.Response:
        form = await request.post()
        call = _call_resource(self._sid("CA"), request.match_info["account"], "outbound-api", "queued")
        call.update({"to": form.get("To"), "from": form.get("From")})
        request[RECORD].created_sid = call["sid"]
        # Twilio answers "queued"; by the time the callee answers and the stream opens, it is in progress.
        placed = {**call, "status": self.placed_calls_become}
        answered = placed["status"] in ("in-progress", "completed")
        if answered and form.get("MachineDetection"):
            placed["answered_by"] = self.placed_calls_answered_by
        self.calls[call["sid"]] = placed
        entered = re.search(
            r'<Conference [^>]*startConferenceOnEnter="true"[^>]*>([^<]+)<', form.get("Twiml", "")
        )
        person = placed.get("answered_by", "human") == "human"
        if entered and placed["status"] == "in-progress" and person and self.colleagues_join:
            name = entered.group(1)
            self.conferences[name] = {
                "sid": self._sid("CF"),
                "account_sid": call["account_sid"],
                "friendly_name": name,
                "status": "in-progress",
            }
        return web.json_response(call, status=201)

    async def fetch_call(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["call"])
        if call is None or call["account_sid"] != request.match_info["account"]:
            return _not_found(request)
        return web.json_response(call)

    async def update_call(self, request: web.Request) -> web.Response:
        form = await request.post()
        call = self.calls.get(request.match_info["call"])
        if call is None or call["account_sid"] != request.match_info["account"]:
            return _not_found(request)
        if "Twiml" in form and call["status"] not in ("queued", "ringing", "in-progress"):
            error = {"code": 21220, "message": "Call is not in-progress. Cannot redirect.", "status": 400}
            return web.json_response(error, status=400)
        if form.get("Status") == "completed":
            call["status"] = "completed"
        # Twilio cancels a call that is queued or ringing, and leaves one in progress alone.
        if form.get("Status") == "canceled" and call["status"] in ("queued", "ringing"):
            call["status"] = "canceled"
        return web.json_response(call)

    async def list_conferences(self, request: web.Request) -> web.Response:
        name, status = request.query.get("FriendlyName"), request.query.get("Status")
        found = [
            conference
            for conference in self.conferences.values()
            if conference["account_sid"] == request.match_info["account"]
            and name in (None, conference["friendly_name"])
            and status in (None, conference["status"])
        ]
        return web.json_response({"conferences": found, "next_page_uri": None, "page": 0})

    async def create_recording(self, request: web.Request) -> web.Response:
        recording = {"sid": self._sid("RE"), "call_sid": request.match_info["call"], "status": "in-progress"}
        return web.json_response(recording, status=201)

    async def list_numbers(self, request: web.Request) -> web.Response:
        wanted = request.query.get("PhoneNumber")
        found = [n for n in self.numbers if wanted in (None, n["phone_number"])]
        return web.json_response({"incoming_phone_numbers": found, "next_page_uri": None, "page": 0})

    async def update_number(self, request: web.Request) -> web.Response:
        form = await request.post()
        number = next(n for n in self.numbers if n["sid"] == request.match_info["number"])
        number.update({"voice_url": form.get("VoiceUrl"), "voice_method": form.get("VoiceMethod")})
        return web.json_response(number)

    def hang_ups(self) -> list[TwilioRequest]:
        return [r for r in self.requests if r.method == "POST" and r.form.get("Status") == "completed"]


def _call_resource(call_sid: str, account_sid: str, direction: str, status: str) -> dict:
    """The fields of Twilio's Call resource that the agent reads."""
    uri = f"/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json"
    return {
        "sid": call_sid,
        "account_sid": account_sid,
        "parent_call_sid": None,
        "answered_by": None,
        "direction": direction,
        "status": status,
        "uri": uri,
    }


def _not_found(request: web.Request) -> web.Response:
    """Twilio's answer for a resource that does not exist, or belongs to another account."""
    error = {
        "code": 20404,
        "message": f"The requested resource {request.path} was not found",
        "more_info": "https://www.twilio.com/docs/errors/20404",
        "status": 404,
    }
    return web.json_response(error, status=404)


def _basic_auth_user(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    return base64.b64decode(header[6:]).decode().split(":", 1)[0]
