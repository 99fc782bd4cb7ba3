"""The floors the flash-sale numbers are read against: one Lua call and one INSERT
through Flask on gunicorn with nothing else (no auth, no ORM, no validation, no
outbox, no Celery), and a constant JSON page. Served by bench/floor.py; not
part of Evently."""
import os

import psycopg2
import redis
from flask import Flask, jsonify, request

app = Flask(__name__)
_redis = redis.Redis.from_url(os.environ["FLOOR_REDIS_URL"])
_take = _redis.register_script("return redis.call('HINCRBY', KEYS[1], 'avail', -tonumber(ARGV[1]))")
_connection = None


def connection():
    global _connection  # one per gunicorn worker, opened after the fork
    if _connection is None:
        _connection = psycopg2.connect(os.environ["FLOOR_DATABASE_URL"])
        _connection.autocommit = True
    return _connection


@app.post("/book")
def book():
    quantity = int(request.get_json()["quantity"])
    left = _take(keys=["bench-floor:{event:1}"], args=[quantity])
    with connection().cursor() as cursor:
        cursor.execute("INSERT INTO bench_floor (quantity) VALUES (%s) RETURNING id", (quantity,))
        booking_id = cursor.fetchone()[0]
    return jsonify({"id": booking_id, "left": left}), 201


# What a cached event-list page is at best: a constant ~10 kB JSON body, no work at all.
_STATIC_LIST = b'{"message": "Events.", "data": [' + b",".join([b'{"id": 1, "title": "' + b"x" * 400 + b'"}'] * 20) + b"]}"


@app.get("/static-list")
def static_list():
    return app.response_class(_STATIC_LIST, mimetype="application/json")


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
