"""A fake of a team's own endpoint for call reports (CALL_REPORT_URL): it keeps every JSON POST it gets.

`status` makes it answer an error, and `hang_secs` makes it wait that long before answering.
"""

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class ReportPost:
    body: dict
    at: float  # when it arrived, on the tests' clock


@dataclass
class FakeReportEndpoint:
    posts: list[ReportPost] = field(default_factory=list)
    status: int = 200
    hang_secs: float = 0.0

    def __post_init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_post("/call-reports", self.receive)

    def reset(self) -> None:
        """Answers again; the posts stay, each under its own CallSid, since tests reset between calls."""
        self.status, self.hang_secs = 200, 0.0

    async def receive(self, request: web.Request) -> web.Response:
        self.posts.append(ReportPost(await request.json(), time.monotonic()))
        if self.hang_secs:
            await asyncio.sleep(self.hang_secs)
        return web.json_response({"received": True}, status=self.status)

    def reports_for(self, call_sid: str) -> list[dict]:
        """The bodies received for one call: a retry after a failure sends the same record again."""
        return [post.body for post in self.posts if post.body.get("call_sid") == call_sid]
