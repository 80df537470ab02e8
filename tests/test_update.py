"""Agents made with `cruft create` take a changed answer through `cruft update`, as the READMEs say."""

import json
import subprocess

from tests.conftest import (
    COOKIECUTTER,
    GIT_IDENTITY,
    BakedProject,
    commit_all,
    run_checked,
    template_repository,
    tool,
)


def test_reanswering_the_organization_matches_a_fresh_bake(tmp_path):
    template = template_repository(tmp_path)
    projects = tmp_path / "projects"
    projects.mkdir()
    run_checked([tool("cruft"), "create", str(template), "--no-input"], projects)
    agent = projects / "phone-agent"
    placeholder = COOKIECUTTER["_placeholder_organization"]
    assert f'ORGANIZATION = "{placeholder}"' in (agent / "phone" / "twiml.py").read_text()
    commit_all(agent, "the agent")

    answer = json.dumps({"organization": "acme-voice-1234"})
    update = run_checked([tool("cruft"), "update", "-y", "--variables-to-update", answer], agent)
    assert "Traceback" not in update.stdout + update.stderr

    fresh = tmp_path / "fresh"
    run_checked(
        [tool("cookiecutter"), str(template), "--no-input", "-o", str(fresh), "organization=acme-voice-1234"],
        tmp_path,
    )
    difference = subprocess.run(
        ["diff", "-r", "-x", ".cruft.json", "-x", ".git", str(agent), str(fresh / "phone-agent")],
        capture_output=True,
        text=True,
    )
    assert difference.returncode == 0, difference.stdout
    recorded = json.loads((agent / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert recorded["organization"] == "acme-voice-1234"
    changed = run_checked(["git", "status", "--short"], agent).stdout
    print(changed)
    assert "twiml/inbound.xml" in changed and "phone/twiml.py" in changed


def test_cruft_never_deploys_whatever_deploy_was_answered(tmp_path):
    """cruft renders into temporary folders, twice for an update: none of those renders deploys."""
    template = template_repository(tmp_path)
    projects = tmp_path / "projects"
    projects.mkdir()
    create = [tool("cruft"), "create", str(template), "--no-input", "--extra-context", '{"deploy": "yes"}']
    created = run_checked(create, projects)
    agent = projects / "phone-agent"
    commit_all(agent, "the agent")
    updated = run_checked(
        [tool("cruft"), "update", "-y", "--variables-to-update", '{"call_transfer": "yes"}'], agent
    )
    for output in (created.stdout, updated.stdout):
        assert "Deploying to Pipecat Cloud" not in output
        assert "Not deployed: cruft renders the agent in a temporary folder" in output
    assert (agent / "call_control" / "transfer.py").is_file()  # the update itself went through


def test_an_update_brings_the_template_change_and_keeps_the_teams_work(tmp_path):
    template = template_repository(tmp_path)
    projects = tmp_path / "projects"
    projects.mkdir()
    run_checked(
        [tool("cruft"), "create", str(template), "--no-input", "--extra-context", '{"deploy": "yes"}'],
        projects,
    )
    agent = projects / "phone-agent"
    # The team's work: an edit to a file the template owns, a file of its own, a lock file, and its .env.
    intro = "A Pipecat voice agent that answers"
    readme = agent / "README.md"
    readme.write_text(readme.read_text().replace(intro, "Our front-desk agent answers", 1))
    kept = {"TEAM.md": "Who is on call for this agent.\n", "uv.lock": "# the team's lock file\n"}
    for name, text in kept.items():
        (agent / name).write_text(text)
    commit_all(agent, "the agent, as the team has it")
    kept[".env"] = "OPENAI_API_KEY=sk-team-secret\n"  # ignored by git, as .gitignore says
    (agent / ".env").write_text(kept[".env"])

    # Template commit B changes the line the team edited, and a file the team left alone.
    template_readme = template / "{{cookiecutter.agent_name}}" / "README.md"
    template_readme.write_text(
        template_readme.read_text().replace(intro, "A Pipecat 1.14 voice agent that answers")
    )
    dockerignore = template / "{{cookiecutter.agent_name}}" / ".dockerignore"
    dockerignore.write_text(dockerignore.read_text() + "# commit B: notebooks stay out\n*.ipynb\n")
    run_checked(["git", *GIT_IDENTITY, "commit", "-q", "-am", "commit B"], template)

    update = run_checked([tool("cruft"), "update", "-y"], agent)

    assert "*.ipynb" in (agent / ".dockerignore").read_text()  # B's change, where the team changed nothing
    merged = readme.read_text()
    conflict_shown = (agent / "README.md.rej").is_file() or "<<<<<<<" in merged
    assert conflict_shown or ("Our front-desk agent" in merged and "Pipecat 1.14" in merged)
    assert "Our front-desk agent answers" in merged  # the team's edit is never lost
    for name, text in kept.items():
        assert (agent / name).read_text() == text, name
    assert "Deploying to Pipecat Cloud" not in update.stdout
    print(update.stdout)
    # The updated agent still passes its own whole suite.
    BakedProject(agent, {}).run_agent_suite()
