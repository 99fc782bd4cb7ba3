"""/healthz, /readyz against real and dead dependencies, and /metrics."""
import re

import pytest

from tests.variants import DEAD_REDIS, other_app

DEAD_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:1/evently"


def test_healthz(client, app_ctx):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"message": "ok", "data": {"status": "alive"}}


def test_readyz_when_everything_is_up(client, app_ctx):
    response = client.get("/readyz")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"] == {"postgres": "ok", "redis": "ok", "broker": "ok"}
    assert "error" not in response.get_json()


@pytest.mark.parametrize("down, overrides", [
    ("redis", {"REDIS_URL": DEAD_REDIS}),
    ("broker", {"CELERY": {"broker_url": DEAD_REDIS, "result_backend": DEAD_REDIS}}),
    ("postgres", {"SQLALCHEMY_DATABASE_URI": DEAD_POSTGRES}),
])
def test_readyz_names_the_dependency_that_is_down(app, down, overrides):
    with other_app(app, **overrides) as degraded:
        response = degraded.test_client().get("/readyz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["error"]["code"] == "UNAVAILABLE"
    expected = {name: ("down" if name == down else "ok") for name in ("postgres", "redis", "broker")}
    assert body["data"] == expected
    assert body["error"]["details"] == expected
    assert body["message"]


def test_readyz_recovers_with_the_app(client, app):
    with other_app(app, REDIS_URL=DEAD_REDIS) as degraded:
        assert degraded.test_client().get("/readyz").status_code == 503
    assert client.get("/readyz").status_code == 200


def test_ops_routes_are_never_rate_limited(app):
    with other_app(app, RATELIMIT_ENABLED=True, RATELIMIT_APPLICATION="2 per minute") as limited:
        client = limited.test_client()
        statuses = [client.get(path).status_code for path in ("/healthz", "/readyz", "/metrics") for _ in range(4)]
        api_statuses = [client.get("/api/auth/me").status_code for _ in range(3)]

    assert set(statuses) == {200}
    assert api_statuses == [401, 401, 429]


# --- metrics -------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_metrics_are_served_to_loopback(client, app_ctx, address):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 200


@pytest.mark.parametrize("address", ["203.0.113.7", "10.0.0.5", "::ffff:10.0.0.5", "2001:db8::1", ""])
def test_metrics_are_refused_to_other_addresses(client, app_ctx, address):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "FORBIDDEN"
    assert "evently_http_requests_total" not in response.get_data(as_text=True)


def test_metrics_are_served_to_the_allowed_networks(app):
    with other_app(app, METRICS_ALLOWED_NETWORKS=["10.0.0.0/8", "2001:db8::/32"]) as configured:
        client = configured.test_client()
        statuses = {address: client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code
                    for address in ("10.1.2.3", "2001:db8::1", "11.0.0.1", "127.0.0.1")}

    assert statuses == {"10.1.2.3": 200, "2001:db8::1": 200, "11.0.0.1": 403, "127.0.0.1": 200}


def test_a_forwarded_for_header_opens_metrics_only_through_a_trusted_proxy(app):
    outside = {"X-Forwarded-For": "203.0.113.7"}
    with other_app(app) as direct:
        spoofing_loopback = direct.test_client().get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"},
                                                     environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code
    with other_app(app, TRUSTED_PROXY_COUNT=1) as proxied:
        through_proxy = proxied.test_client().get("/metrics", headers=outside).status_code

    assert spoofing_loopback == 403
    assert through_proxy == 403  # the proxy is on loopback, the client it names is not


def test_a_mistyped_network_stops_the_app(app):
    with pytest.raises(ValueError):
        with other_app(app, METRICS_ALLOWED_NETWORKS=["10.0.0.0/33"]):
            pass


def sample(text, name, **labels):
    """The value of one sample in Prometheus text, or 0 when it is absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)\{(.*)\} (\S+)", line)
        if match and match.group(1) == name and ",".join(sorted(match.group(2).split(","))) == wanted:
            return float(match.group(3))
    return 0.0


def scrape(client):
    return client.get("/metrics").get_data(as_text=True)


def test_metrics_are_prometheus_text(client, app_ctx):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    for family in ("evently_http_requests_total", "evently_bookings_total", "evently_http_request_seconds"):
        assert f"# TYPE {family.removesuffix('_total')}" in text, family


def test_metrics_speak_openmetrics_when_asked(client, app_ctx):
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})

    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).rstrip().endswith("# EOF")


def test_requests_are_counted_by_route_and_status(client, app_ctx):
    before = scrape(client)
    for _ in range(3):
        client.get("/api/auth/me")
    client.get("/healthz")
    after = scrape(client)

    labels = {"method": "GET", "endpoint": "/api/auth/me", "status": "401"}
    assert sample(after, "evently_http_requests_total", **labels) - sample(before, "evently_http_requests_total", **labels) == 3
    health = {"method": "GET", "endpoint": "/healthz", "status": "200"}
    assert sample(after, "evently_http_requests_total", **health) - sample(before, "evently_http_requests_total", **health) == 1
    assert sample(after, "evently_http_request_seconds_count", endpoint="/api/auth/me") >= 3


def test_metric_labels_use_the_url_rule_not_the_raw_path(app):
    with other_app(app) as probe:
        probe.add_url_rule("/probe/<int:item_id>", "probe_item", lambda item_id: {"id": item_id})
        client = probe.test_client()
        for item_id in (1, 2, 3):
            client.get(f"/probe/{item_id}")
        for junk in ("/wp-admin/1", "/wp-admin/2", "/.env"):
            client.get(junk)
        client.open("/healthz", method="BREW")
        text = scrape(client)

    assert sample(text, "evently_http_requests_total", method="GET", endpoint="/probe/<int:item_id>", status="200") >= 3
    assert sample(text, "evently_http_requests_total", method="GET", endpoint="<unmatched>", status="404") >= 3
    assert sample(text, "evently_http_requests_total", method="OTHER", endpoint="<unmatched>", status="405") >= 1
    for raw in ("/probe/1", "/wp-admin", "/.env", "BREW"):
        assert raw not in text
