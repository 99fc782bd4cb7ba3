"""Redis stalled, and Redis replies lost on the wire: fast 503s, each hold applied once."""
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from evently.auth import liveness
from evently.extensions import db, redis_client
from evently.seats import gate
from tests import factories
from tests.faults.checks import check_converges, check_gate_exact, check_jepsen_bound
from tests.faults.proxy import ReplyDroppingProxy
from tests.redis_server import PrivateRedis
from tests.variants import other_app

pytestmark = pytest.mark.race


@pytest.fixture
def redis_server():
    server = PrivateRedis().start()
    yield server
    server.stop()


def app_for(app, redis_url, **overrides):
    return other_app(app, REDIS_URL=redis_url, CELERY={"broker_url": redis_url, "result_backend": redis_url},
                     **overrides)


def storm(test_app, event_id, user_ids, quantities, during=None, workers=8):
    """Book from many threads. With `during(faulted)`: a quarter of the requests are answered
    first, then `during` runs in a thread and sets `faulted` once its fault is in place, and
    only then are the rest sent, so they meet the fault however fast bookings are."""
    with test_app.app_context():
        tokens = [factories.access_token(user_id) for user_id in user_ids]

    def book(index):
        client = test_app.test_client()
        began = time.monotonic()
        response = client.post("/api/bookings", json={"eventId": event_id, "quantity": quantities[index]},
                               headers={"Authorization": f"Bearer {tokens[index]}"})
        return response.status_code, response.get_json(), time.monotonic() - began

    with ThreadPoolExecutor(max_workers=workers) as pool:
        first = len(user_ids) // 4 if during else len(user_ids)
        futures = [pool.submit(book, index) for index in range(first)]
        if during:
            for future in futures:
                future.result(timeout=120)
            faulted = threading.Event()
            fault = threading.Thread(target=during, args=(faulted,))
            fault.start()
            assert faulted.wait(30), "the fault never started"
            futures += [pool.submit(book, index) for index in range(first, len(user_ids))]
            fault.join(60)
        outcomes = [future.result(timeout=120) for future in futures]
    return [(status, body) for status, body, _ in outcomes], [duration for _, _, duration in outcomes]


def test_replies_lost_after_the_script_ran_apply_each_hold_once(app, redis_server):
    proxy = ReplyDroppingProxy(redis_server.port).start()
    try:
        with app_for(app, proxy.url) as test_app, test_app.app_context():
            event_id = factories.make_event(capacity=200, max_per_booking=4).id
            user_ids = [user.id for user in factories.make_users(40)]
            quantities = [1 + index % 4 for index in range(40)]
            results, _ = storm(test_app, event_id, user_ids, quantities)
            assert [status for status, _ in results] == [201] * 40
            assert len(proxy.dropped) >= 40  # every take's first reply was lost and retried
            check_jepsen_bound(event_id, results, quantities)
            assert check_gate_exact(event_id) == 200 - sum(quantities)
            db.session.remove()
    finally:
        proxy.stop()


def take_without_replay(monkeypatch):
    """A test-only variant of take.lua that never looks for an earlier decision of its hold."""
    script = gate.script
    variants = {}

    def variant(name):
        if name != "take":
            return script(name)
        client = redis_client.client
        if client not in variants:
            source = gate.LUA_DIR.joinpath("queue.lua").read_text() + "\n" + gate.LUA_DIR.joinpath("take.lua").read_text()
            assert "if prior then" in source
            variants[client] = client.register_script(source.replace("if prior then", "if false then"))
        return variants[client]

    monkeypatch.setattr(gate, "script", variant)


def test_negative_control_without_the_hold_replay_the_retries_take_twice(app, redis_server, monkeypatch):
    """Proves the test above can fail: the retried script takes the seats again."""
    take_without_replay(monkeypatch)
    proxy = ReplyDroppingProxy(redis_server.port).start()
    try:
        with app_for(app, proxy.url) as test_app, test_app.app_context():
            event_id = factories.make_event(capacity=200, max_per_booking=4).id
            user_ids = [user.id for user in factories.make_users(20)]
            results, _ = storm(test_app, event_id, user_ids, [2] * 20)
            assert [status for status, _ in results] == [201] * 20
            with pytest.raises(AssertionError):
                check_gate_exact(event_id)
            db.session.remove()
    finally:
        proxy.stop()


def test_stalled_redis_gives_fast_503s_and_no_double_take(app, redis_server):
    with app_for(app, redis_server.url) as test_app, test_app.app_context():
        event_id = factories.make_event(capacity=50, max_per_booking=4).id
        user_ids = [user.id for user in factories.make_users(60)]
        quantities = [1 + index % 2 for index in range(60)]
        _stall_storm(test_app, redis_server, event_id, user_ids, quantities)
        db.session.remove()


def _stall_storm(test_app, redis_server, event_id, user_ids, quantities):

    def stall(faulted):
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        faulted.set()
        # Longer than a session check's one timeout plus a take's three: the takes must meet it.
        time.sleep(3.0)
        os.kill(redis_server.process.pid, signal.SIGCONT)

    results, durations = storm(test_app, event_id, user_ids, quantities, during=stall, workers=12)
    statuses = [status for status, _ in results]
    assert 500 not in statuses and set(statuses) <= {201, 503}, sorted(set(statuses))
    assert 503 in statuses, "the stall must have been seen"
    slowest_503 = max(duration for (status, _), duration in zip(results, durations) if status == 503)
    assert slowest_503 < 3.0, f"a 503 took {slowest_503:.2f}s"
    check_jepsen_bound(event_id, results, quantities)
    check_gate_exact(event_id)  # commands queued during the stall ran once each
    check_converges(event_id)


def authenticated_seconds(test_app, token, count):
    client = test_app.test_client()
    seconds = []
    for _ in range(count):
        began = time.monotonic()
        response = client.get("/api/bookings", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.get_json()
        seconds.append(time.monotonic() - began)
    return seconds


def test_a_stalled_redis_costs_session_checks_one_timeout_per_pause(app, redis_server):
    """While Redis is stopped, a session is checked in PostgreSQL; only the first request pays
    Redis's socket timeout, the next ones within the pause go straight to PostgreSQL."""
    with app_for(app, redis_server.url) as test_app, test_app.app_context():
        token = factories.access_token(factories.make_user().id)
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        try:
            first, *rest = authenticated_seconds(test_app, token, 6)
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
        timeout = test_app.config["REDIS_SOCKET_TIMEOUT"]
        assert timeout <= first < 2 * timeout, first  # one attempt, no retries
        assert max(rest) < timeout / 2, rest
        db.session.remove()


def test_negative_control_without_the_pause_every_request_waits_out_the_stall(app, redis_server, monkeypatch):
    monkeypatch.setattr(liveness, "REDIS_PAUSE_SECONDS", 0.0)
    with app_for(app, redis_server.url) as test_app, test_app.app_context():
        token = factories.access_token(factories.make_user().id)
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        try:
            seconds = authenticated_seconds(test_app, token, 3)
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
        assert min(seconds) >= test_app.config["REDIS_SOCKET_TIMEOUT"], seconds
        db.session.remove()
