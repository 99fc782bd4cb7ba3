"""Sessions that really end: refresh rotation with reuse detection, logout of one session or all,
password change, and the checks behind them, over HTTP and in the rows."""
import threading

import pytest
from flask_jwt_extended import decode_token
from sqlalchemy import select

from evently.auth import liveness
from evently.auth.models import AuthSession
from evently.extensions import db, redis_client
from tests import factories
from tests.variants import other_app

NEW_PASSWORD = "a brand new passphrase"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def login(client, user, password=factories.PASSWORD):
    response = client.post("/api/auth/login", json={"email": user.email, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def refresh(client, refresh_token):
    return client.post("/api/auth/refresh", headers=bearer(refresh_token))


def session_rows():
    db.session.expire_all()
    return db.session.scalars(select(AuthSession).order_by(AuthSession.created_at, AuthSession.id)).all()


def session_of(token):
    db.session.expire_all()
    return db.session.get(AuthSession, decode_token(token)["fam"])


def works(client, tokens):
    """(access token opens /me, refresh token refreshes): probing the refresh token rotates it."""
    me = client.get("/api/auth/me", headers=bearer(tokens["accessToken"])).status_code
    refreshed = refresh(client, tokens["refreshToken"]).status_code
    return me == 200, refreshed == 200


def assert_401(response):
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


# --- a session per login -------------------------------------------------------------------


def test_login_opens_a_session_that_its_tokens_name(client, user):
    tokens = login(client, user)

    access, refresh_claims = decode_token(tokens["accessToken"]), decode_token(tokens["refreshToken"])
    [row] = session_rows()
    assert access["fam"] == refresh_claims["fam"] == row.id
    assert (row.user_id, row.refresh_jti, row.revoked_at) == (user.id, refresh_claims["jti"], None)
    assert {"exp", "iat", "jti", "sub", "type", "fam"} <= set(access)


def test_each_login_is_its_own_session(client, user):
    first, second = login(client, user), login(client, user)

    assert decode_token(first["accessToken"])["fam"] != decode_token(second["accessToken"])["fam"]
    assert len(session_rows()) == 2


# --- refresh rotation ----------------------------------------------------------------------


def test_refresh_rotates_the_refresh_token(client, user):
    tokens = login(client, user)

    response = refresh(client, tokens["refreshToken"])

    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    rotated = response.get_json()["data"]
    assert set(rotated) == {"accessToken", "refreshToken"}
    new_claims = decode_token(rotated["refreshToken"])
    assert new_claims["fam"] == decode_token(tokens["refreshToken"])["fam"]
    assert new_claims["jti"] != decode_token(tokens["refreshToken"])["jti"]
    row = session_of(rotated["refreshToken"])
    assert row.refresh_jti == new_claims["jti"] and row.revoked_at is None and row.last_used_at >= row.created_at
    assert client.get("/api/auth/me", headers=bearer(rotated["accessToken"])).status_code == 200
    # The chain goes on: each new refresh token refreshes once.
    again = refresh(client, rotated["refreshToken"])
    assert again.status_code == 200
    assert refresh(client, again.get_json()["data"]["refreshToken"]).status_code == 200


def test_reusing_a_rotated_refresh_token_ends_the_whole_session(client, user):
    tokens = login(client, user)
    rotated = refresh(client, tokens["refreshToken"]).get_json()["data"]
    other_session = login(client, user)

    replay = refresh(client, tokens["refreshToken"])

    assert_401(replay)
    assert "already used" in replay.get_json()["message"]
    row = session_of(tokens["refreshToken"])
    assert row.revoked_reason == "refresh_reuse" and row.revoked_at is not None
    # Whoever holds the rotated pair (the owner or the thief) is out too.
    assert_401(client.get("/api/auth/me", headers=bearer(rotated["accessToken"])))
    assert_401(refresh(client, rotated["refreshToken"]))
    assert_401(client.get("/api/auth/me", headers=bearer(tokens["accessToken"])))
    # Another login of the same user is another session, untouched.
    assert works(client, other_session) == (True, True)


@pytest.mark.race
def test_a_refresh_token_raced_against_itself_rotates_once_then_ends_the_session(app, app_ctx, user):
    tokens = login(app.test_client(), user)
    racers = 8
    barrier = threading.Barrier(racers)
    answers = [None] * racers

    def race(index):
        client = app.test_client()
        barrier.wait()
        response = refresh(client, tokens["refreshToken"])
        answers[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=race, args=(index,)) for index in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    winners = [body["data"] for status, body in answers if status == 200]
    assert len(winners) == 1, [status for status, _ in answers]
    assert sorted(status for status, _ in answers) == [200] + [401] * (racers - 1)
    # The losers presented a token that was no longer current: a reuse, so the session ended,
    # and the one pair that was minted is dead as well.
    row = session_of(tokens["refreshToken"])
    assert row.revoked_reason == "refresh_reuse"
    client = app.test_client()
    assert_401(refresh(client, winners[0]["refreshToken"]))
    assert_401(client.get("/api/auth/me", headers=bearer(winners[0]["accessToken"])))


# --- logout --------------------------------------------------------------------------------


@pytest.mark.parametrize("sent", ["accessToken", "refreshToken"])
def test_logout_ends_the_session_with_either_of_its_tokens(app, client, user, sent):
    tokens = login(client, user)
    other_session = login(client, user)

    response = client.post("/api/auth/logout", headers=bearer(tokens[sent]))

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"] == {"endedSessions": 1}
    assert response.headers["Cache-Control"] == "no-store"
    row = session_of(tokens["accessToken"])
    assert row.revoked_reason == "logout" and row.revoked_at is not None
    assert_401(client.get("/api/auth/me", headers=bearer(tokens["accessToken"])))
    assert_401(refresh(client, tokens["refreshToken"]))
    assert_401(client.post("/api/auth/logout", headers=bearer(tokens[sent])))
    # Another process (a fresh app, nothing in memory) sees the same ended session.
    with other_app(app) as fresh:
        assert fresh.test_client().get("/api/auth/me", headers=bearer(tokens["accessToken"])).status_code == 401
    assert works(client, other_session) == (True, True)


def test_logout_without_a_token_is_401_and_ends_nothing(client, user):
    login(client, user)

    assert_401(client.post("/api/auth/logout"))
    assert [row.revoked_at for row in session_rows()] == [None]


def test_logout_all_ends_every_session_of_the_caller_only(client, user):
    mine = [login(client, user) for _ in range(3)]
    someone_else = factories.make_user()
    theirs = login(client, someone_else)

    response = client.post("/api/auth/logout-all", headers=bearer(mine[1]["accessToken"]))

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"] == {"endedSessions": 3}
    for tokens in mine:
        assert works(client, tokens) == (False, False)
    assert {row.revoked_reason for row in session_rows() if row.user_id == user.id} == {"logout_all"}
    assert works(client, theirs) == (True, True)
    assert_401(client.post("/api/auth/logout-all", headers=bearer(mine[0]["accessToken"])))


def test_logout_all_needs_an_access_token(client, user):
    tokens = login(client, user)

    assert_401(client.post("/api/auth/logout-all", headers=bearer(tokens["refreshToken"])))
    assert_401(client.post("/api/auth/logout-all"))
    assert [row.revoked_at for row in session_rows()] == [None]


def test_a_session_is_refused_once_its_row_is_gone(client, user):
    """A missing session counts as ended: rows may be pruned without reopening anything. (Rows
    are deleted only long after their tokens expired; a row deleted by hand is noticed once its
    cached "live" expires, SESSION_CACHE_SECONDS at most: here that moment is forced.)"""
    tokens = login(client, user)
    family_id = decode_token(tokens["accessToken"])["fam"]
    db.session.delete(session_of(tokens["accessToken"]))
    db.session.commit()
    redis_client.delete(liveness.key(family_id))

    assert_401(client.get("/api/auth/me", headers=bearer(tokens["accessToken"])))
    assert_401(refresh(client, tokens["refreshToken"]))


# --- the session check: Redis, PostgreSQL behind it ----------------------------------------


def statements_during(request):
    """The SQL statements a request runs."""
    from sqlalchemy import event as sa_event

    seen = []
    listener = lambda _conn, _cursor, statement, *_args: seen.append(statement)  # noqa: E731
    sa_event.listen(db.engine, "before_cursor_execute", listener)
    try:
        response = request()
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", listener)
    return response, seen


def test_a_live_session_is_checked_in_redis_alone(client, user):
    tokens = login(client, user)

    response, statements = statements_during(
        lambda: client.post("/api/bookings", json={"eventId": 424242, "quantity": 1},
                            headers=bearer(tokens["accessToken"])))

    assert response.status_code == 404  # authenticated, then the event is unknown
    assert not [statement for statement in statements if "auth_sessions" in statement or "FROM users" in statement]
    assert redis_client.get(liveness.key(decode_token(tokens["accessToken"])["fam"])) == f"live:{user.id}"


def test_a_session_ended_is_refused_at_once_though_redis_said_live(client, user):
    tokens = login(client, user)
    family_id = decode_token(tokens["accessToken"])["fam"]
    assert redis_client.get(liveness.key(family_id)) == f"live:{user.id}"

    assert client.post("/api/auth/logout", headers=bearer(tokens["accessToken"])).status_code == 200

    assert redis_client.get(liveness.key(family_id)) == "ended"
    assert_401(client.get("/api/auth/me", headers=bearer(tokens["accessToken"])))


def test_a_cache_miss_reads_postgresql_and_never_revives_an_ended_session(client, app_ctx, user):
    tokens = login(client, user)
    family_id = decode_token(tokens["accessToken"])["fam"]
    redis_client.delete(liveness.key(family_id))  # expired, or Redis was flushed

    assert works(client, tokens)  # read through from PostgreSQL, and cached again
    assert redis_client.get(liveness.key(family_id)) == f"live:{user.id}"

    # A read-through that read "live" just before the session ended must not overwrite the tombstone.
    liveness._end([family_id])
    liveness._remember(family_id, f"live:{user.id}", only_if_absent=True)
    assert redis_client.get(liveness.key(family_id)) == "ended"


def test_with_redis_down_sessions_are_checked_in_postgresql(app, user):
    from tests.variants import DEAD_REDIS

    with other_app(app, REDIS_URL=DEAD_REDIS, REDIS_RETRIES=0) as broken:
        client = broken.test_client()
        tokens = login(client, user)
        assert client.get("/api/auth/me", headers=bearer(tokens["accessToken"])).status_code == 200
        assert client.post("/api/auth/logout", headers=bearer(tokens["accessToken"])).status_code == 200
        assert_401(client.get("/api/auth/me", headers=bearer(tokens["accessToken"])))


# --- password change -----------------------------------------------------------------------


def change_password(client, tokens, current, new=NEW_PASSWORD):
    return client.post("/api/auth/password", headers=bearer(tokens["accessToken"]),
                       json={"currentPassword": current, "newPassword": new})


def test_password_change_ends_every_other_session(client, user):
    current, *others = [login(client, user) for _ in range(3)]
    hash_before = user.password_hash

    response = change_password(client, current, factories.PASSWORD)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"] == {"endedSessions": 2}
    assert response.headers["Cache-Control"] == "no-store"
    for tokens in others:
        assert works(client, tokens) == (False, False)
    assert {row.revoked_reason for row in session_rows() if row.revoked_at} == {"password_change"}
    assert works(client, current) == (True, True)
    db.session.refresh(user)
    assert user.password_hash != hash_before
    assert_401(client.post("/api/auth/login", json={"email": user.email, "password": factories.PASSWORD}))
    assert login(client, user, NEW_PASSWORD)


def test_a_wrong_current_password_is_403_and_changes_nothing(client, user):
    current, other = login(client, user), login(client, user)
    hash_before = user.password_hash

    response = change_password(client, current, "not the password")

    assert response.status_code == 403, response.get_json()
    assert response.get_json()["error"]["code"] == "FORBIDDEN"
    db.session.refresh(user)
    assert user.password_hash == hash_before
    assert works(client, other) == (True, True)
    assert login(client, user)


def test_the_new_password_follows_the_registration_rules(client, user):
    current = login(client, user)

    response = change_password(client, current, factories.PASSWORD, new="short")

    assert response.status_code == 400
    assert list(response.get_json()["error"]["details"]) == ["newPassword"]
    assert login(client, user)


def test_wrong_current_passwords_count_against_the_login_throttle(app, client, user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 2)
    current = login(client, user)

    statuses = [change_password(client, current, "not the password").status_code for _ in range(2)]
    right_but_locked = change_password(client, current, factories.PASSWORD)

    assert statuses == [403, 403]
    assert right_but_locked.status_code == 403
    assert_401(client.post("/api/auth/login", json={"email": user.email, "password": factories.PASSWORD}))


def test_the_role_travels_in_the_token_and_a_refresh_reads_it_afresh(client, app_ctx, user):
    tokens = login(client, user)
    assert decode_token(tokens["accessToken"])["role"] == "user"
    event_body = {"title": "T", "venue": "V", "startsAt": "2031-01-01T19:00:00Z", "endsAt": "2031-01-01T22:00:00Z",
                  "capacity": 5, "price": 1}
    assert client.post("/api/events", json=event_body, headers=bearer(tokens["accessToken"])).status_code == 403

    user.role = "admin"  # no API demotes or promotes; an operator's change reaches tokens at their next refresh
    db.session.commit()
    refreshed = refresh(client, tokens["refreshToken"]).get_json()["data"]

    assert decode_token(refreshed["accessToken"])["role"] == "admin"
    assert client.post("/api/events", json=event_body, headers=bearer(refreshed["accessToken"])).status_code == 201
