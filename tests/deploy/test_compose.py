"""docker-compose.yml, read as data (docker is not needed): production mode, no secret with a
default, only nginx in front of the API, and the proxy configuration it builds is the one
tests/deploy/test_nginx.py runs."""
import re

import pytest
import yaml

from config import DEV_ADMIN_PASSWORD
from evently.secret_keys import PUBLISHED
from tests.servers import COMPOSE_LISTEN, COMPOSE_UPSTREAM, NGINX_SERVER_BLOCK, ROOT

COMPOSE = ROOT / "docker-compose.yml"
REQUIRED_SECRETS = ["SECRET_KEY", "JWT_SECRET_KEY", "EVENTLY_ADMIN_PASSWORD", "FLOWER_BASIC_AUTH"]
APP_SERVICES = ["api", "worker", "beat", "flower"]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


def test_every_app_service_runs_in_production_mode(compose):
    for name in APP_SERVICES:
        assert compose["services"][name]["environment"]["EVENTLY_ENV"] == "production", name


@pytest.mark.parametrize("secret", REQUIRED_SECRETS)
def test_a_missing_secret_stops_compose_with_a_line_naming_every_secret(compose, secret):
    """`${NAME:?message}`: compose refuses to start while NAME is unset or empty, and prints the
    message. No default can stand in for a secret."""
    environments = [compose["services"][name]["environment"] for name in APP_SERVICES]
    values = {env[secret] for env in environments if secret in env}

    assert values, f"no service receives {secret}"
    for value in values:
        match = re.fullmatch(r"\$\{" + secret + r":\?([^}]+)\}", value)
        assert match, f"{secret} is {value!r}, not required"
        assert all(name in match.group(1) for name in REQUIRED_SECRETS)


def test_no_published_secret_appears_in_the_file():
    text = COMPOSE.read_text()

    for value in (*PUBLISHED, DEV_ADMIN_PASSWORD, "flower-change-me"):
        assert value not in text


def test_only_the_proxy_publishes_the_api(compose):
    services = compose["services"]

    assert "ports" not in services["api"]
    # Behind exactly one proxy, unless a deployment says it has another balancer in front.
    assert compose["x-app-env"]["TRUSTED_PROXY_COUNT"] == "${TRUSTED_PROXY_COUNT:-1}"
    assert services["proxy"]["build"] == "deploy/nginx"
    [published] = services["proxy"]["ports"]
    assert published.endswith(":" + COMPOSE_LISTEN.split()[1].rstrip(";"))
    assert services["proxy"]["depends_on"]["api"]["condition"] == "service_healthy"
    # Everything else that is published stays on the host's loopback.
    for name, service in services.items():
        if name != "proxy":
            assert all(port.startswith("127.0.0.1:") for port in service.get("ports", [])), name


def test_the_proxy_points_at_the_api_service(compose):
    api = compose["services"]["api"]["environment"]
    host, port = COMPOSE_UPSTREAM.split()[1].rstrip(";").split(":")

    assert host == "api" and port == api["PORT"]
    assert COMPOSE_UPSTREAM in NGINX_SERVER_BLOCK.read_text()
    image = (ROOT / "deploy" / "nginx" / "Dockerfile").read_text()
    assert "COPY evently.conf /etc/nginx/conf.d/evently.conf" in image
    assert "include /etc/nginx/conf.d/evently.conf;" in (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
