"""The compose deployment's front, run for real: nginx with deploy/nginx/evently.conf before
gunicorn with the project's settings. Slow clients cannot starve the workers, bodies over the
limit never reach them, no Server header leaves, and X-Forwarded-For is nginx's, not the client's."""
import http.client
import time

import pytest

from bench.loopback import Slowloris
from tests.servers import gunicorn, nginx, nginx_check, render_nginx

SLOW_CLIENTS = 40  # far more than the sync workers behind nginx (3)


@pytest.fixture(scope="module")
def api():
    with gunicorn({"EVENTLY_ENV": "testing", "TRUSTED_PROXY_COUNT": "1", "TEST_RATELIMIT_ENABLED": "true",
                   "RATELIMIT_AUTH": "3 per minute"}, workers=3) as port:
        yield port


@pytest.fixture(scope="module")
def front(api, tmp_path_factory):
    with nginx(tmp_path_factory.mktemp("nginx"), upstream_port=api) as port:
        yield port


def get(port, path="/healthz", headers=None, timeout=10):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def timed_healthz(port, timeout):
    started = time.monotonic()
    try:
        status, _headers, _body = get(port, timeout=timeout)
    except (OSError, http.client.HTTPException):
        status = None
    return status, time.monotonic() - started


def test_the_rendered_configuration_is_valid_nginx(tmp_path):
    main = render_nginx(tmp_path, upstream_port=9, listen_port=9)

    result = nginx_check(main)

    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr


def test_slow_clients_leave_healthz_fast_through_the_front(api, front):
    with Slowloris(front, SLOW_CLIENTS):
        samples = []
        for _ in range(6):
            samples.append(timed_healthz(front, timeout=5))
            time.sleep(0.5)

    slowest = max(seconds for _, seconds in samples)
    figure = f"/healthz through nginx under {SLOW_CLIENTS} slow clients: at most {slowest * 1000:.1f} ms"
    print(figure)  # the figure docs/security.md quotes (`pytest -s` shows it)
    assert [status for status, _ in samples] == [200] * 6
    assert slowest < 1.0, figure


def test_without_the_front_the_same_slow_clients_starve_gunicorn(api, front):
    """Negative control: the attack is real on this machine, so the test above proves nginx's part."""
    with Slowloris(api, 3):
        status, seconds = timed_healthz(api, timeout=3)

    assert status is None or seconds >= 3, f"gunicorn answered in {seconds:.3f} s with its workers held"


def test_no_server_header_leaves_the_deployment(api, front):
    for path in ("/healthz", "/api/nope", "/metrics"):
        _status, headers, _body = get(front, path)
        assert "Server" not in headers, (path, headers)
    # Control: gunicorn on its own names itself.
    assert get(api)[1].get("Server", "").startswith("gunicorn")


def test_metrics_are_not_served_at_the_edge(front):
    status, headers, body = get(front, "/metrics")

    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert b'"NOT_FOUND"' in body


def test_a_body_over_the_limit_is_refused_by_nginx_as_json(front):
    connection = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
    try:
        connection.request("POST", "/api/auth/login", body=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        status, headers, body = response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()

    assert status == 413
    assert headers["Content-Type"] == "application/json"
    assert b'"PAYLOAD_TOO_LARGE"' in body
    assert "X-Request-ID" not in headers and "Server" not in headers  # nginx answered; the app never saw it


def login_statuses(port, spoofed):
    statuses = []
    for address in spoofed:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("POST", "/api/auth/login", body=b'{"email": "x@example.com", "password": "y"}',
                               headers={"Content-Type": "application/json", "X-Forwarded-For": address})
            statuses.append(connection.getresponse().status)
        finally:
            connection.close()
    return statuses


def test_a_client_cannot_pick_its_own_address_through_the_front(api, front):
    spoofed = [f"203.0.113.{n}" for n in range(5)]

    # TRUSTED_PROXY_COUNT=1 trusts exactly one X-Forwarded-For hop: nginx replaces the client's with
    # the real address, so all five share one limit (3 a minute)...
    assert login_statuses(front, spoofed) == [401, 401, 401, 429, 429]
    # ...while a client reaching gunicorn itself could (which is why compose publishes only nginx).
    assert login_statuses(api, [f"198.51.100.{n}" for n in range(5)]) == [401] * 5
