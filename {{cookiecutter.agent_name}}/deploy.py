"""Deploys this agent to Pipecat Cloud.

Usage: uv run deploy.py [--dry-run] [--image IMAGE] [--keep-secret-set] [--yes]

1. Checks the `pipecat cloud` CLI and its login, the organization, .env and uv.lock.
2. Replaces the secret set with the non-empty values in .env, in the agent's region.
   With --keep-secret-set (CI, where there is no .env) it keeps the set already on Pipecat Cloud
   instead, once it has checked that the set is there, in the region, with every required key.
3. Deploys with pcc-deploy.toml, built by Pipecat Cloud Build (no local Docker) or from --image,
   and waits until the agent is ready.
4. Prints the TwiML Bin and the steps that remain.

Every step is safe to run again: an existing secret set is replaced (or kept), an existing agent updated.
It only drives the real `pipecat cloud` CLI, and it never prints a secret value.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from phone import twiml
from settings import REQUIRED_SETTINGS

AGENT_DIR = Path(__file__).resolve().parent
# Where `pipecat cloud auth login` keeps its token; PIPECAT_CONFIG_PATH moves it.
CLI_CONFIG = Path("~/.config/pipecatcloud/pipecatcloud.toml")
# The CLI's progress lines in plain output: "[12:00:01] Waiting for deployment to become ready..."
CLI_PROGRESS = re.compile(r"^\[\d\d:\d\d:\d\d\] ")
SECRET_SET_POLL_SECS = 2.0
RETRY = "`uv run deploy.py`"
LOG_IN = "run `pipecat cloud auth login` or set PIPECAT_TOKEN"


class DeployError(Exception):
    """One line that says what went wrong and what to do."""


@dataclass
class Plan:
    cli: str
    agent_name: str
    organization: str
    region: str
    secret_set: str
    secrets: dict[str, str]  # empty when the set is kept
    keep_secret_set: bool
    image: str | None
    profile: str
    min_agents: int

    def describe(self) -> list[str]:
        source = f"the image {self.image}" if self.image else "an image built by Pipecat Cloud Build"
        if self.keep_secret_set:
            secrets_step = [
                f"  1. keep the secret set {self.secret_set} as it is on Pipecat Cloud (.env is not read), "
                f"after checking that it is ready in {self.region} and holds {', '.join(REQUIRED_SETTINGS)}",
                f"     $ pipecat cloud {' '.join(self.listing_command())}",
            ]
        else:
            secrets_step = [
                f"  1. replace the secret set {self.secret_set} with the {len(self.secrets)} non-empty "
                f"values in .env ({', '.join(self.secrets)})",
                f"     $ pipecat cloud {' '.join(self.secrets_command('<non-empty lines of .env>'))}",
            ]
        return [
            f"Deploy {self.agent_name} to Pipecat Cloud, organization {self.organization}, "
            f"region {self.region}:",
            *secrets_step,
            f"  2. deploy {source} with pcc-deploy.toml ({self.profile}, min_agents {self.min_agents}) "
            "and wait until it is ready",
            f"     $ pipecat cloud {' '.join(self.deploy_command())}",
            "  3. print the TwiML Bin that sends calls to it",
        ]

    def listing_command(self) -> list[str]:
        return ["secrets", "list", self.secret_set]

    def secrets_command(self, env_file: str) -> list[str]:
        return ["secrets", "set", self.secret_set, "--file", env_file, "--region", self.region, "--skip"]

    def deploy_command(self) -> list[str]:
        # --force redeploys even when only the secrets changed, so the agent picks the new values up.
        image = [self.agent_name, self.image] if self.image else []
        return ["deploy", *image, "--yes", "--force"]


def read_env_file(path: Path) -> dict[str, str]:
    """The values of .env exactly as a local run reads them, with python-dotenv's parser.

    A line it cannot read is an error here, named by its number only (it may hold a secret), where a
    local run would skip it with a warning: a secret must not go missing from the secret set.
    """
    try:
        from dotenv import dotenv_values
        from dotenv.parser import parse_stream
    except ImportError:  # run by a Python without the agent's dependencies
        raise DeployError(f"python-dotenv is not installed: run {RETRY}, which installs it") from None
    with path.open() as env_file:
        for binding in parse_stream(env_file):
            if binding.key is None and not binding.error:
                continue  # a blank line or a comment
            line = f"{path.name} line {binding.original.line}"
            if binding.error or binding.value is None:
                raise DeployError(f"{line} is not KEY=value: fix it, then run {RETRY} again")
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", binding.key):
                raise DeployError(f"{line}: secret names may hold only letters, digits, _ and -")
            if "\n" in binding.value:
                raise DeployError(f"{line}: {binding.key} spans several lines; secrets are one line")
    return dict(dotenv_values(path))  # every line is sound: read it as a local run does


def read_secrets() -> dict[str, str]:
    """The non-empty values of .env, which must hold every required setting."""
    env_file = AGENT_DIR / ".env"
    if not env_file.exists():
        raise DeployError(".env is missing: cp .env.example .env and fill in the values marked required")
    secrets = {key: value for key, value in read_env_file(env_file).items() if value}
    missing = [name for name in REQUIRED_SETTINGS if name not in secrets]
    if missing:
        raise DeployError(f"{', '.join(missing)} not set in .env: fill in every value marked required")
    return secrets


def find_cli() -> str | None:
    """`pipecat` beside this Python (uv run, a venv) or on PATH (uv tool install)."""
    beside_python = Path(sys.executable).parent / "pipecat"
    return str(beside_python) if beside_python.exists() else shutil.which("pipecat")


def logged_in() -> bool:
    if os.environ.get("PIPECAT_TOKEN"):
        return True
    config = Path(os.environ.get("PIPECAT_CONFIG_PATH") or CLI_CONFIG).expanduser()
    try:
        return bool(tomllib.loads(config.read_text()).get("token"))
    except (OSError, tomllib.TOMLDecodeError):
        return False


def make_plan(image: str | None, keep_secret_set: bool) -> Plan:
    """Every check that needs no network; each failure is one line that says what to do."""
    cli = find_cli()
    if not cli:
        raise DeployError(f"the pipecat CLI is not installed: run {RETRY}, which installs it with the agent")
    if not logged_in():
        raise DeployError(f"the pipecat CLI is not logged in: {LOG_IN}")
    if twiml.ORGANIZATION == twiml.PLACEHOLDER_ORGANIZATION:
        raise DeployError(
            f"the organization is still the placeholder {twiml.PLACEHOLDER_ORGANIZATION!r}: set "
            "ORGANIZATION in phone/twiml.py to yours (`pipecat cloud organizations list`), "
            "then run `python -m commands.twiml_bins`"
        )
    try:
        config = tomllib.loads((AGENT_DIR / "pcc-deploy.toml").read_text())
        region, agent_name, secret_set = config["region"], config["agent_name"], config["secret_set"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as error:
        raise DeployError(f"pcc-deploy.toml cannot be read ({error!r}): restore it from git") from None
    service_host = f"{agent_name}.{twiml.ORGANIZATION}"
    if twiml.SERVICE_HOST != service_host or twiml.STREAM_URL != twiml.pipecat_cloud_stream_url(region):
        raise DeployError(
            "phone/twiml.py does not route calls to the agent and region in pcc-deploy.toml: make them match"
        )
    secrets = {} if keep_secret_set else read_secrets()
    if not image and not (AGENT_DIR / "uv.lock").exists():
        raise DeployError("uv.lock is missing: the image installs from it; run `uv lock`, then deploy again")
    return Plan(
        cli=cli,
        agent_name=agent_name,
        organization=twiml.ORGANIZATION,
        region=region,
        secret_set=secret_set,
        secrets=secrets,
        keep_secret_set=keep_secret_set,
        image=image,
        profile=config.get("agent_profile", "agent-1x"),
        min_agents=config.get("scaling", {}).get("min_agents", 0),
    )


class CloudCLI:
    """Runs `pipecat cloud` steps under one deadline, shows their progress, and hides every secret value."""

    def __init__(self, plan: Plan, timeout: float):
        self.plan = plan
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.env = {
            **os.environ,
            "PIPECAT_ORG": plan.organization,
            "PIPECAT_DEPLOY_CONFIG_PATH": str(AGENT_DIR / "pcc-deploy.toml"),
            # Debug logging would print request bodies, secret values included.
            "PIPECAT_CLI_LOG_LEVEL": "INFO",
            "PCC_LOG_LEVEL": "INFO",
        }

    def hide_secrets(self, text: str) -> str:
        for value in sorted(self.plan.secrets.values(), key=len, reverse=True):
            if len(value) >= 4:
                text = text.replace(value, "***")
        return text

    def run(self, doing: str, *args: str) -> "CliResult":
        """Runs one CLI command to its end; a failure is one DeployError line, unless the caller checks it."""
        organization = ["--organization", self.plan.organization]
        command = [self.plan.cli, "cloud", "--output", "json", *args, *organization]
        process = subprocess.Popen(
            command,
            cwd=AGENT_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        expired = threading.Event()
        watchdog = threading.Timer(
            max(0.0, self.deadline - time.monotonic()), lambda: (expired.set(), process.kill())
        )
        watchdog.start()
        stdout: list[str] = []
        reader = threading.Thread(target=lambda: stdout.append(process.stdout.read()))
        reader.start()
        messages = []
        for line in process.stderr:
            line = self.hide_secrets(line.rstrip())
            messages.append(line)
            if CLI_PROGRESS.match(line):
                print(f"    {line}", flush=True)
        reader.join()
        code = process.wait()
        watchdog.cancel()
        if expired.is_set():
            raise DeployError(f"{doing}: no result within {self.timeout:g} s; safe to run {RETRY} again")
        return CliResult(doing, code, json_objects("".join(stdout)), messages, self)

    def check(self, doing: str, *args: str) -> "CliResult":
        result = self.run(doing, *args)
        if result.code:
            raise result.error()
        return result


@dataclass
class CliResult:
    doing: str
    code: int
    objects: list[dict]
    messages: list[str]
    cli: CloudCLI

    def api_error(self) -> dict | None:
        return next((f["error"] for f in self.objects if isinstance(f.get("error"), dict)), None)

    def first(self, key: str) -> dict | None:
        return next((f for f in self.objects if key in f), None)

    def error(self) -> DeployError:
        reason = failure_reason(self.api_error(), self.messages)
        return DeployError(f"{self.doing}: {self.cli.hide_secrets(reason)}")


def json_objects(text: str) -> list[dict]:
    decoder, found, position = json.JSONDecoder(), [], 0
    while (start := text.find("{", position)) != -1:
        try:
            value, position = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def failure_reason(api_error: dict | None, messages: list[str]) -> str:
    """The API's error and what to do about it, else the CLI's own error line."""
    if api_error:
        status = str(api_error.get("code", ""))
        text = str(api_error.get("error") or api_error.get("message") or "no details").rstrip(".")
        if status == "401":
            return f"Pipecat Cloud refused the login (401): {LOG_IN}"
        if status == "409":
            return f"{text} (409); run {RETRY} again once the earlier change is applied"
        if status.startswith("5"):
            return f"Pipecat Cloud failed ({status}: {text}): run {RETRY} again in a few minutes"
        return f"{text} ({status})"
    errors = [m for m in messages if "Error" in m.split(":")[0]]
    details = [m for m in (errors or messages) if m.strip()]
    return details[-1].split(": ", 1)[-1] if details else "the pipecat CLI failed without a message"


def read_secret_set(cli: CloudCLI, plan: Plan) -> dict | None:
    """The set's key names, region and status, or None when Pipecat Cloud has no such set."""
    listing = cli.run("reading the secret set", *plan.listing_command())
    if listing.api_error():
        raise listing.error()
    # Without an API error, a failed listing means there is no such set yet.
    existing = listing.first("secrets")
    if existing and existing.get("region") not in (None, plan.region):
        raise DeployError(
            f"the secret set {plan.secret_set} is in {existing['region']}, not {plan.region}: delete it with "
            f"`pipecat cloud secrets delete {plan.secret_set}` or rename secret_set in pcc-deploy.toml"
        )
    return existing


def check_kept_secret_set(cli: CloudCLI, plan: Plan) -> None:
    """Checks the set already on Pipecat Cloud, by its key names only: this machine has no values."""
    print(f"==> Checking the secret set {plan.secret_set} in {plan.region}", flush=True)
    if read_secret_set(cli, plan) is None:
        raise DeployError(
            f"the secret set {plan.secret_set} does not exist on Pipecat Cloud: run {RETRY} once from a "
            "machine with a filled .env, which creates it; nothing was deployed"
        )
    keys = {secret["fieldName"] for secret in wait_for_secret_set(cli, plan).get("secrets", [])}
    missing = [name for name in REQUIRED_SETTINGS if name not in keys]
    if missing:
        raise DeployError(
            f"the secret set {plan.secret_set} lacks {', '.join(missing)}: run {RETRY} once from a "
            "machine with a filled .env, which adds them; nothing was deployed"
        )


def replace_secret_set(cli: CloudCLI, plan: Plan) -> None:
    existing = read_secret_set(cli, plan) or {}
    print(f"==> Uploading {len(plan.secrets)} secrets to {plan.secret_set} in {plan.region}", flush=True)
    # Only the non-empty values, one quoted line each: the CLI refuses empty values and strips the quotes.
    with tempfile.TemporaryDirectory() as folder:
        env_file = Path(folder) / "secrets.env"
        env_file.touch(mode=0o600)
        env_file.write_text("".join(f'{key}="{value}"\n' for key, value in plan.secrets.items()))
        cli.check("uploading the secret set", *plan.secrets_command(str(env_file)))
    stale = [s["fieldName"] for s in existing.get("secrets", []) if s["fieldName"] not in plan.secrets]
    for key in stale:
        print(f"==> Removing {key} from {plan.secret_set}: it is no longer in .env", flush=True)
        cli.check(f"removing {key} from the secret set", "secrets", "unset", plan.secret_set, key, "--skip")
    wait_for_secret_set(cli, plan)


def wait_for_secret_set(cli: CloudCLI, plan: Plan) -> dict:
    """Pipecat Cloud provisions a changed set before an agent can use it; returns the set once it is."""
    while True:
        listing = cli.check("checking the secret set", *plan.listing_command()).first("secrets") or {}
        status = listing.get("status")
        if status == "failed":
            reason = listing.get("errorMessage") or "no details"
            raise DeployError(f"Pipecat Cloud could not provision {plan.secret_set}: {reason}")
        if status != "pending":
            return listing
        print(f"    {plan.secret_set} is being provisioned...", flush=True)
        time.sleep(SECRET_SET_POLL_SECS)


def deploy_agent(cli: CloudCLI, plan: Plan) -> bool:
    """True once the agent is ready; False when it is deployed but still rolling out."""
    source = f"from {plan.image}" if plan.image else "with Pipecat Cloud Build"
    print(f"==> Deploying {plan.agent_name} {source}, then waiting until it is ready", flush=True)
    result = cli.check("deploying the agent", *plan.deploy_command()).first("ready") or {}
    return bool(result.get("ready"))


def print_next_steps(plan: Plan, ready: bool) -> None:
    if ready:
        print(f"\n{plan.agent_name} is ready on Pipecat Cloud.")
    else:
        print(f"\n{plan.agent_name} is deployed and rolling out; `pipecat cloud agent status` shows when.")
    print("Paste this into a new TwiML Bin in the Twilio Console:\n")
    print(twiml.stream_twiml(twiml.BIN_PARAMETERS["inbound.xml"]))
    print("Then:")
    print("  1. Twilio Console > TwiML Bins > Create: paste the TwiML above and save.")
    print("  2. Phone Numbers > your number > A call comes in: TwiML Bin, choose that Bin, save")
    print("     (or: uv run python -m commands.number_setup +1NUMBER --bin-url BIN_URL).")
    print(f"  3. Call the number. Logs: pipecat cloud agent logs {plan.agent_name}")


def confirmed() -> bool:
    if not sys.stdin.isatty():
        raise DeployError("confirm with --yes when there is no terminal; nothing was changed")
    return input("Deploy now? [y/N] ").strip().lower() in ("y", "yes")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan and commands, change nothing")
    parser.add_argument("--image", help="deploy this registry image (with a tag) instead of building one")
    parser.add_argument(
        "--keep-secret-set",
        action="store_true",
        help="keep the secret set already on Pipecat Cloud and do not read .env (for CI)",
    )
    parser.add_argument("--yes", action="store_true", help="deploy without asking")
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds the whole deploy may take (default 1800)"
    )
    args = parser.parse_args()
    try:
        plan = make_plan(args.image, args.keep_secret_set)
        print("\n".join(plan.describe()), flush=True)
        if args.dry_run:
            print("Dry run: nothing was uploaded or deployed.")
            return 0
        if not args.yes and not confirmed():
            raise DeployError("the plan was not confirmed; nothing was changed")
        cli = CloudCLI(plan, args.timeout)
        if plan.keep_secret_set:
            check_kept_secret_set(cli, plan)
        else:
            replace_secret_set(cli, plan)
        ready = deploy_agent(cli, plan)
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"error: interrupted; it is safe to run {RETRY} again", file=sys.stderr)
        return 130
    print_next_steps(plan, ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
