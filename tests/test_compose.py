"""docker-compose.yml, checked where docker cannot run: valid against the compose-spec
JSON schema (vendored by the pinned check-jsonschema package), in agreement with the
README's list of the variables it passes, and starting what the Procfile starts."""
import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"


def interpolate(value):
    """Compose's interpolation with nothing set: ${VAR:-default} and ${VAR-default} give the
    default, ${VAR} gives "", $$ is a literal $."""
    if isinstance(value, dict):
        return {key: interpolate(item) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item) for item in value]
    if not isinstance(value, str):
        return value
    value = re.sub(r"\$\{[A-Z_]+:?-([^}]*)\}", r"\1", value)
    value = re.sub(r"\$\{[A-Z_]+\}", "", value)
    return value.replace("$$", "$")


def compose():
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_is_valid_against_the_compose_spec_schema():
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    for document in (compose(), interpolate(compose())):
        errors = sorted(validator.iter_errors(document), key=lambda error: list(error.path))
        assert not errors, [f"{list(error.path)}: {error.message}" for error in errors]


def test_the_schema_check_would_catch_a_broken_file():
    broken = compose()
    broken["services"]["api"]["ports"] = "5000:5000"  # must be a list
    broken["services"]["worker"]["depends_on"] = {"api": {"condition": "when_it_feels_like_it"}}
    errors = list(jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(broken))
    assert len(errors) >= 2


def test_every_variable_the_docs_say_compose_passes_is_passed():
    guide = (ROOT / "docs" / "deployment.md").read_text()
    sentence = re.search(r"Compose fixes the connection URLs.*?passes these from\s+the shell or `\.env`:(.*?)\.\s",
                         guide, flags=re.DOTALL)
    assert sentence, "docs/deployment.md's list of the variables compose passes"
    promised = set(re.findall(r"`([A-Z_]+)`", sentence.group(1)))
    text = COMPOSE.read_text()
    interpolated = set(re.findall(r"\$\{([A-Z_]+)", text))

    assert promised == interpolated, {"promised, not passed": promised - interpolated,
                                      "passed, not in the docs": interpolated - promised}
    app_env = compose()["x-app-env"]
    services = compose()["services"]
    for name in promised - {"PORT", "FLOWER_PORT", "FLOWER_BASIC_AUTH", "WEB_CONCURRENCY"}:
        assert re.search(r"\$\{" + name + r"\b", str(app_env[name])), name  # reaches every app process
    assert "WEB_CONCURRENCY" in services["api"]["environment"]
    assert "FLOWER_BASIC_AUTH" in services["flower"]["environment"]


def test_compose_runs_what_the_procfile_runs():
    procfile = {line.split(":", 1)[0] for line in (ROOT / "Procfile").read_text().splitlines()
                if line and not line.startswith("#")}
    services = compose()["services"]

    assert procfile <= set(services), procfile - set(services)
    assert "--task-events" in services["worker"]["command"]
    assert "--maintenance" in services["maintenance"]["command"]
    assert "--task-events" not in services["maintenance"]["command"]
    assert "--enable_events=False" in services["flower"]["command"]
