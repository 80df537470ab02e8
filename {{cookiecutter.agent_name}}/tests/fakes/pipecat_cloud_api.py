"""A fake Pipecat Cloud API for the real `pipecat cloud` CLI, which reaches it through PIPECAT_API_HOST.

It keeps secret sets, services and builds like the real API does, accepts the build context upload
that the CLI sends to the `uploadUrl` it hands out, and records every request. `failure` makes
matching requests fail or hang.
"""

import asyncio
import io
import itertools
import tarfile
from dataclasses import dataclass, field

from aiohttp import web

ORG = "/v1/organizations/{org}"


@dataclass
class CloudRequest:
    method: str
    path: str
    body: dict | None
    query: dict[str, str]


@dataclass
class CloudFailure:
    """Requests whose `METHOD path` contains `match` get `status` and `error` (None: answer) after `delay`."""

    match: str
    status: int | None = 500
    error: str = "Internal server error"
    delay: float = 0.0


@dataclass
class FakePipecatCloud:
    token: str
    regions: tuple[str, ...] = ("us-west", "us-east", "eu-central", "ap-south")
    # (slug, display name) of each organization the token's user belongs to.
    organizations: tuple[tuple[str, str], ...] = (("acme-voice-1234", "Acme Voice"),)
    secret_sets: dict[str, dict] = field(default_factory=dict)
    services: dict[str, dict] = field(default_factory=dict)
    uploads: list[bytes] = field(default_factory=list)
    requests: list[CloudRequest] = field(default_factory=list)
    failure: CloudFailure | None = None
    # Status polls that answer "pending" after a secret changes, and "not ready" after a deploy.
    provisioning_polls: int = 1
    polls_until_ready: int = 1

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self.root = ""  # set by serve(): the upload URL points back at this fake
        self.app = web.Application(middlewares=[self._record_and_fail], client_max_size=64 * 1024**2)
        routes = [
            web.get("/v1/organizations", self.list_organizations),
            web.get(ORG + "/regions", self.list_regions),
            web.get(ORG + "/secrets/{set}", self.get_secret_set),
            web.put(ORG + "/secrets/{set}", self.put_secret),
            web.delete(ORG + "/secrets/{set}/{key}", self.delete_secret),
            web.get(ORG + "/builds", self.list_builds),
            web.post(ORG + "/builds/upload-url", self.upload_url),
            web.post(ORG + "/builds", self.create_build),
            web.get(ORG + "/builds/{build}", self.get_build),
            web.post("/upload", self.receive_upload),
            web.get(ORG + "/services/{service}", self.get_service),
            web.post(ORG + "/services", self.create_service),
            web.put(ORG + "/services", self.update_service),
        ]
        self.app.add_routes(routes)

    @web.middleware
    async def _record_and_fail(self, request: web.Request, handler):
        body = await request.json() if request.content_type == "application/json" else None
        self.requests.append(CloudRequest(request.method, request.path, body, dict(request.query)))
        failure = self.failure
        if failure and failure.match in f"{request.method} {request.path}":
            await asyncio.sleep(failure.delay)
            if failure.status:
                error = {"error": failure.error, "code": str(failure.status)}
                return web.json_response(error, status=failure.status)
        if request.path != "/upload" and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "Unauthorized", "code": "401"}, status=401)
        return await handler(request)

    async def list_organizations(self, request: web.Request) -> web.Response:
        # What `pipecat cloud organizations list` reads: `name` is the slug, `verboseName` the display name.
        listing = [{"name": slug, "verboseName": shown} for slug, shown in self.organizations]
        return web.json_response({"organizations": listing})

    async def list_regions(self, request: web.Request) -> web.Response:
        return web.json_response({"regions": [{"code": code, "display_name": code} for code in self.regions]})

    async def get_secret_set(self, request: web.Request) -> web.Response:
        secret_set = self.secret_sets.get(request.match_info["set"])
        if secret_set is None:
            return web.json_response({"error": "Not found", "code": "404"}, status=404)
        keys = [{"fieldName": key} for key in secret_set["values"]]
        status = "pending" if secret_set["pending_polls"] > 0 else "ready"
        secret_set["pending_polls"] = max(0, secret_set["pending_polls"] - 1)
        return web.json_response({"secrets": keys, "region": secret_set["region"], "status": status})

    async def put_secret(self, request: web.Request) -> web.Response:
        body = await request.json()
        name = request.match_info["set"]
        secret_set = self.add_secret_set(name, body.get("region"))
        if secret_set["locked"]:
            message = f"Secret set '{name}' has a pending change; try again when it is applied"
            return web.json_response({"error": message, "code": "409"}, status=409)
        secret_set["values"][body["secretKey"]] = body["secretValue"]
        secret_set["pending_polls"] = self.provisioning_polls
        return web.json_response({"status": "OK", "region": secret_set["region"]})

    async def delete_secret(self, request: web.Request) -> web.Response:
        values = self.secret_sets.get(request.match_info["set"], {}).get("values", {})
        if values.pop(request.match_info["key"], None) is None:
            return web.json_response({"error": "Not found", "code": "404"}, status=404)
        return web.json_response({"status": "OK"})

    async def list_builds(self, request: web.Request) -> web.Response:
        # No build is ever cached here, so every deploy uploads its context.
        return web.json_response({"builds": []})

    async def upload_url(self, request: web.Request) -> web.Response:
        upload = {"uploadId": f"upload-{next(self._ids)}", "uploadUrl": f"{self.root}/upload"}
        return web.json_response({**upload, "uploadFields": {"key": "context.tar.gz"}})

    async def receive_upload(self, request: web.Request) -> web.Response:
        async for part in await request.multipart():
            if part.name == "file":
                self.uploads.append(await part.read())
        return web.Response(status=204)

    async def create_build(self, request: web.Request) -> web.Response:
        build = {"id": f"build-{next(self._ids)}", "status": "success", "buildDurationSeconds": 1}
        return web.json_response({"build": build, "cached": False})

    async def get_build(self, request: web.Request) -> web.Response:
        return web.json_response({"build": {"id": request.match_info["build"], "status": "success"}})

    async def get_service(self, request: web.Request) -> web.Response:
        service = self.services.get(request.match_info["service"])
        if service is None:
            return web.json_response({"error": "Not found", "code": "404"}, status=404)
        service["polls"] += 1
        ready = service["polls"] > self.polls_until_ready
        deployment = service["deployment"]
        status = {"name": service["payload"]["serviceName"], "ready": ready, "available": ready}
        if not ready:
            status["conditions"] = [{"type": "Progressing", "status": "True", "reason": "NewReplicaSet"}]
        return web.json_response(
            {"body": {**status, "desiredDeploymentId": deployment, "reconciledDeploymentId": deployment}}
        )

    async def create_service(self, request: web.Request) -> web.Response:
        payload = await request.json()
        if payload["serviceName"] in self.services:
            return web.json_response({"error": "Service already exists", "code": "409"}, status=409)
        return self._deploy(payload)

    async def update_service(self, request: web.Request) -> web.Response:
        payload = await request.json()
        if payload["serviceName"] not in self.services:
            return web.json_response({"error": "Not found", "code": "404"}, status=404)
        return self._deploy(payload)

    def _deploy(self, payload: dict) -> web.Response:
        deployment = f"deployment-{next(self._ids)}"
        # Status polls count from here, so an update waits for its own deployment like a new agent does.
        self.services[payload["serviceName"]] = {"payload": payload, "deployment": deployment, "polls": 0}
        return web.json_response({"name": payload["serviceName"], "deploymentId": deployment})

    def add_secret_set(self, name: str, region: str | None, locked: bool = False, **values: str) -> dict:
        """A secret set as the API keeps it; `locked` sets stand for a change still being applied."""
        empty = {"region": region, "values": {}, "pending_polls": 0, "locked": locked}
        secret_set = self.secret_sets.setdefault(name, empty)
        secret_set["values"].update(values)
        return secret_set

    def requests_to(self, method: str, path_part: str) -> list[CloudRequest]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    def uploaded_files(self) -> dict[str, bytes]:
        """The build context of the last upload: path -> content."""
        with tarfile.open(fileobj=io.BytesIO(self.uploads[-1]), mode="r:gz") as context:
            return {m.name: context.extractfile(m).read() for m in context.getmembers() if m.isfile()}
