"""Evently on a real Redis Cluster: three primaries on loopback (tests/redis_cluster.py),
selected by a redis+cluster:// REDIS_URL. The gate, reconcile, sessions and the limiter run
on the cluster; Celery's broker cannot (kombu's Redis transport needs one server) and stays
on its own plain Redis, which the app insists on."""
import pytest
from redis.cluster import RedisCluster, key_slot
from redis.exceptions import RedisClusterException
from sqlalchemy import func, select

from evently.bookings import services as bookings
from evently.bookings.models import Booking
from evently.events import services as events
from evently.extensions import db, redis_client
from evently.seats import gate, reconcile
from evently.waitlist.models import WaitlistEntry
from tests import factories
from tests.faults.checks import check_converges, check_gate_exact, check_jepsen_bound
from tests.race import race
from tests.redis_cluster import LocalCluster
from tests.variants import other_app
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def cluster():
    started = LocalCluster().start()
    yield started
    started.stop()


def on_cluster(cluster):
    """What an app needs to run its Redis on the cluster (the limiter reads the same URL)."""
    return {"REDIS_URL": cluster.url, "RATELIMIT_STORAGE_URI": cluster.url}


@pytest.fixture
def cluster_app(app, cluster):
    with other_app(app, **on_cluster(cluster)) as clustered:
        with clustered.app_context():
            yield clustered
            redis_client.flushdb()
            db.session.remove()


def primary_of(name, cluster_client):
    return cluster_client.get_node_from_key(name).port


def events_on_every_primary(cluster, count=12):
    """Events whose gates are spread over the three primaries (asserted, so the test means it)."""
    made = [factories.make_event(capacity=30) for _ in range(count)]
    spread = {primary_of(gate.key(event), redis_client.cluster) for event in made}
    assert spread == set(cluster.ports)
    return made


def test_a_cluster_url_gives_the_engine_a_cluster_client(cluster_app, cluster):
    assert isinstance(redis_client.client.cluster, RedisCluster)
    assert isinstance(redis_client.one_try.cluster, RedisCluster)
    assert len(redis_client.client.cluster.get_primaries()) == 3


def test_every_multi_key_script_keeps_its_keys_on_one_slot(cluster_app):
    """adjust.lua is the one script given two keys: the gate and an operation's marker. The
    {event:ID} hash tag puts both on the gate's slot, whatever the event and token."""
    for event_id in (1, 2, 17, 4096, 2**31 - 1):
        ref = gate.EventRef(event_id, f"token{event_id}")
        assert key_slot(gate.key(ref).encode()) == key_slot(f"{gate.key(ref)}:op:cancel:9".encode())
    # And on the real cluster, which refuses a script whose keys span slots (CROSSSLOT).
    event = factories.make_event(capacity=5)
    gate.rebuild(event)
    assert gate.adjust(event, delta=2, op_id="capacity:1") is True
    assert gate.adjust(event, delta=2, op_id="capacity:1") is False
    assert int(gate.state(event)["avail"]) == 7


def test_without_the_hash_tag_the_cluster_refuses_the_two_key_script(cluster_app, monkeypatch):
    """Negative control for the test above: keys named without {event:ID} fall on different
    slots, and the cluster refuses the script, so that test would catch a lost hash tag."""
    event = factories.make_event(capacity=5)
    gate.rebuild(event)
    monkeypatch.setattr(gate, "key", lambda event: f"evently:event:{event.id}:{event.gate_token}")
    with pytest.raises(RedisClusterException, match="same key slot"):
        gate.adjust(event, delta=2, op_id="capacity:1")


def test_a_booking_storm_on_the_cluster_never_oversells(app, cluster_app, cluster):
    """Three events on three different primaries, 90 buyers racing from three processes:
    PostgreSQL and every gate agree, and nothing is oversold."""
    made = events_on_every_primary(cluster, count=12)
    spread = {}
    for event in made:
        spread.setdefault(primary_of(gate.key(event), redis_client.cluster), event)
    stormed = list(spread.values())
    buyers = factories.make_users(90)
    jobs = [(buyer.id, stormed[n % 3].id, 1 + n % 2, None, None) for n, buyer in enumerate(buyers)]
    results = race(cluster_app, jobs, processes=2, overrides=on_cluster(cluster))

    assert not [status for status, _body in results if status >= 500]
    for event in stormed:
        requested = [job[2] for job in jobs if job[1] == event.id]
        # race() answers in its own order: tell each answer's event by its booking.
        mine = [(status, body) for status, body in results
                if status == 201 and (body["data"]["booking"] or {}).get("eventId") == event.id]
        stored = check_jepsen_bound(event.id, mine, requested)
        assert stored.booked_seats == 30  # 30 buyers want 45 seats: sold out, the rest wait
        check_gate_exact(event.id)
        waiting = db.session.scalar(select(func.count()).select_from(WaitlistEntry).where(
            WaitlistEntry.event_id == event.id, WaitlistEntry.status == "waiting"))
        assert int(gate.state(event)["nwait"]) == waiting > 0
        check_converges(event.id)


def test_cancellations_and_a_capacity_change_on_the_cluster_promote_exactly_once(cluster_app, admin, celery_worker):
    """The promotion path (a real Celery worker on the plain broker, the gate on the cluster)."""
    event = factories.make_event(capacity=2)
    holder, head, second = factories.make_users(3)
    booking = bookings.book_seats(user=holder, event_id=event.id, quantity=2).booking
    bookings.book_seats(user=head, event_id=event.id, quantity=2)
    bookings.book_seats(user=second, event_id=event.id, quantity=1)

    bookings.cancel_booking(actor=holder, booking_id=booking.id)
    events.update_event(actor=admin, event_id=event.id, capacity=3)

    def served():
        db.session.expire_all()
        return db.session.scalars(select(Booking).where(Booking.event_id == event.id, Booking.source == "waitlist")
                                  .order_by(Booking.id)).all()

    wait_until(lambda: len(served()) == 2, message="both waiters promoted")
    assert [(b.user_id, b.quantity) for b in served()] == [(head.id, 2), (second.id, 1)]
    check_converges(event.id)
    assert int(gate.state(event)["nwait"]) == 0


def test_reconcile_rebuilds_lost_gates_and_drops_stale_ones_on_every_primary(cluster_app, cluster):
    made = events_on_every_primary(cluster)
    for event in made:
        bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=3)
    lost, *kept = made
    redis_client.delete(gate.key(lost))
    # Gates of an earlier incarnation of these events (a restored database): one per primary.
    stale = [gate.key(gate.EventRef(event.id, "restored")) for event in made]
    for name in stale:
        redis_client.hset(name, "avail", 99)
    assert {primary_of(name, redis_client.cluster) for name in stale} == set(cluster.ports)

    reconcile.reconcile_all()

    assert not [name for name in stale if redis_client.exists(name)]
    for event in made:
        assert int(gate.state(event)["avail"]) == 27
        assert not reconcile.reconcile_event(event.id).corrected


def test_sessions_are_checked_on_the_cluster(cluster_app):
    user = factories.make_user()
    client = cluster_app.test_client()
    tokens = client.post("/api/auth/login", json={"email": user.email, "password": factories.PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {tokens['data']['accessToken']}"}
    assert client.get("/api/auth/me", headers=headers).status_code == 200
    assert client.post("/api/auth/logout", headers=headers).status_code == 200
    assert client.get("/api/auth/me", headers=headers).status_code == 401


def test_the_limiter_counts_on_the_cluster(app, cluster):
    with other_app(app, **on_cluster(cluster), RATELIMIT_ENABLED=True, RATELIMIT_AUTH="3 per minute") as limited:
        client = limited.test_client()
        statuses = [client.post("/api/auth/login", json={"email": "nobody@example.com", "password": "wrong-password"})
                    .status_code for _ in range(4)]
        counters = list(cluster.client().scan_iter(match="LIMITS*"))
    cluster.client().flushall()
    assert statuses == [401, 401, 401, 429]
    assert counters, "the limiter kept its counters on the cluster"


def test_celery_refuses_a_cluster_broker(app, cluster):
    settings = {"broker_url": cluster.url, "result_backend": app.config["CELERY"]["result_backend"]}
    with pytest.raises(RuntimeError, match="broker_url cannot be a Redis Cluster"):
        with other_app(app, **on_cluster(cluster), CELERY=settings):
            pass


def test_a_lost_primary_is_a_503_and_changes_nothing(app):
    """No replica to fail over to: the lost primary's slots are down. A booking is refused with
    the one JSON error (503), never a 500, and PostgreSQL keeps nothing of it."""
    doomed = LocalCluster().start()
    try:
        with other_app(app, **on_cluster(doomed)) as clustered, clustered.app_context():
            event = factories.make_event(capacity=10)
            buyer = factories.make_user()
            client = clustered.test_client()
            headers = factories.auth_headers(buyer)
            assert client.get("/readyz").status_code == 200
            doomed.kill(primary_of(gate.key(event), redis_client.cluster))

            first = client.post("/api/bookings", json={"eventId": event.id, "quantity": 1}, headers=headers)
            # After the node timeout the others mark the cluster down (CLUSTERDOWN) for every slot.
            wait_until(lambda: doomed.state_seen_by_survivors() == {"fail"}, timeout=15, message="cluster down")
            later = client.post("/api/bookings", json={"eventId": event.id, "quantity": 1}, headers=headers)
            db.session.remove()
            stored = db.session.scalar(select(func.count()).select_from(Booking))
    finally:
        doomed.stop()
    assert (first.status_code, first.get_json()["error"]["code"]) == (503, "UNAVAILABLE")
    assert (later.status_code, later.get_json()["error"]["code"]) == (503, "UNAVAILABLE")
    assert stored == 0
