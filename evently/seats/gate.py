"""The Redis seat gate: atomic admission in Lua, rebuilt from PostgreSQL whenever it is missing.

Per event one Redis hash (one key, so an eviction or a flush loses all of it or
none), named `evently:{event:ID}:TOKEN`: the hash tag keeps it and its operation
markers on one Cluster slot, and TOKEN is the event's incarnation in PostgreSQL
(events.gate_token), so a gate left over from a restored or re-created database,
or from an earlier event with the same id, is never addressed again; reconcile
deletes such leftovers. The fields and the queue's rule are in lua/queue.lua.
PostgreSQL is the truth; this is the fast, atomic front door.

Functions take the event as anything with `id` and `gate_token` (an Event, a row).
"""
import time
from collections import Counter, namedtuple
from dataclasses import dataclass
from decimal import Decimal
from math import ceil
from pathlib import Path

import redis
import simplejson
from flask import current_app
from sqlalchemy import bindparam, func, select

from evently.errors import REDIS_UNAVAILABLE
from evently.events.models import Event
from evently.extensions import db, redis_client
from evently.ops.metrics import RECONCILE_CORRECTIONS
from evently.waitlist.models import WaitlistEntry

LUA_DIR = Path(__file__).with_name("lua")
KEY_PREFIX = "evently:{event:"
OP_MARKER_TTL = 24 * 3600
_scripts = {}

# What a gate needs to be addressed; for callers that only have the two columns.
EventRef = namedtuple("EventRef", "id gate_token")


def key(event):
    return f"{KEY_PREFIX}{event.id}}}:{event.gate_token}"


def parse_key(name):
    """(event id, token) of a gate key, or None for any other key (operation markers included)."""
    if not name.startswith(KEY_PREFIX):
        return None
    event_id, sep, token = name[len(KEY_PREFIX):].partition("}:")
    if not sep or not event_id.isdigit() or not token or ":" in token:
        return None
    return int(event_id), token


def script(name):
    """A registered script, lua/queue.lua prepended; redis-py re-loads it on NOSCRIPT (after SCRIPT FLUSH or a restart)."""
    client = redis_client.client
    cached = _scripts.get(name)
    if cached is None or cached[0] is not client:
        source = (LUA_DIR / "queue.lua").read_text() + "\n" + (LUA_DIR / f"{name}.lua").read_text()
        cached = (client, client.register_script(source))
        _scripts[name] = cached
    return cached[1]


@dataclass(frozen=True)
class Decision:
    status: str  # OK | REPLAY | NONE | SEATS_AVAILABLE | CLOSED (the event is gone or cancelled)
    taken: int
    waitlisted: bool
    available: int
    position: int | None = None  # the place the gate queued this request at, if it joined the waitlist
    queue_seq: int | None = None  # its number in the queue's order (waitlist_entries.queue_seq)
    serve: bool = False  # free seats are left that a waiting entry could take: request a promotion


def take(event, *, hold_id, quantity, mode="direct", allow_partial=True, join_waitlist=True):
    """Ask the gate for seats under `hold_id`. A repeat with the same hold id
    returns the first decision. A missing gate is rebuilt from PostgreSQL first."""
    args = [hold_id, quantity, mode, int(allow_partial), int(join_waitlist), int(time.time())]
    for _attempt in range(3):
        status, taken, waitlisted, available, position, seq, serve = script("take")(keys=[key(event)], args=args)
        if status != "MISSING":
            return Decision(status, int(taken), bool(int(waitlisted)), int(available), int(position) or None,
                            int(seq) or None, bool(int(serve)))
        if not rebuild(event) and not redis_client.exists(key(event)):
            return Decision("CLOSED", 0, False, 0)
    raise RuntimeError(f"seat gate for event {event.id} could not be rebuilt")


def release(event, *, hold_id):
    """Give a hold's seats back (only call after winning the release claim in PostgreSQL)."""
    return int(script("release")(keys=[key(event)], args=[hold_id]))


def finish(event, *, hold_id):
    """The hold's outcome is committed: forget the hold, keep its seats taken and its mark."""
    redis_client.hdel(key(event), f"h:{hold_id}")


def finish_all(holds):
    """Forget many finished holds, given as (gate key, hold id) pairs, in one pipelined round trip."""
    fields = {}
    for gate_key, hold_id in holds:
        fields.setdefault(gate_key, []).append(f"h:{hold_id}")
    pipe = redis_client.pipeline(transaction=False)
    for gate_key, names in fields.items():
        pipe.hdel(gate_key, *names)
    pipe.execute()


def unwait(event, *, entry_key):
    """The waitlist entry with this gate key no longer waits."""
    return int(script("unwait")(keys=[key(event)], args=[entry_key]))


def adjust(event, *, delta, op_id):
    """Add `delta` sellable seats exactly once for `op_id` (a cancellation, a capacity change),
    under the event's row lock before the change commits, so reconcile cannot interleave."""
    return bool(int(script("adjust")(keys=[key(event), f"{key(event)}:op:{op_id}"], args=[delta, OP_MARKER_TTL])))


def ref(event_id):
    """The event's id and incarnation, or None if it does not exist."""
    row = db.session.execute(select(Event.id, Event.gate_token).where(Event.id == event_id)).one_or_none()
    return None if row is None else EventRef(row.id, row.gate_token)


def close(event):
    """Drop the gate: a cancelled or deleted event sells nothing (its status refuses it too)."""
    redis_client.delete(key(event))


def rebuild(event):
    """Build a missing gate from PostgreSQL (no-op if someone else built it first).
    Missing means unknown, never 0 or full: the numbers come from the rows. Reads
    in the caller's transaction (under the event's row lock if the caller holds it)."""
    row = db.session.execute(select(Event.capacity, Event.booked_seats, Event.status, Event.waitlist_paused)
                             .where(Event.id == event.id, Event.gate_token == event.gate_token)).one_or_none()
    if row is None or row.status == "cancelled":
        return False  # nothing to sell: no gate (a cancelled event's was closed on purpose)
    waiting = db.session.execute(_WAITING, {"event_id": event.id}).all()
    built = int(script("init")(keys=[key(event)], args=[
        row.capacity - row.booked_seats, _queue_top(event.id), int(row.waitlist_paused),
        *[part for entry in waiting for part in (entry.gate_key, mark(entry))]]))
    if built:
        RECONCILE_CORRECTIONS.labels("rebuild").inc()
        current_app.logger.info("rebuilt seat gate for event %s from PostgreSQL", event.id)
    return bool(built)


_WAITING = (select(WaitlistEntry.gate_key, WaitlistEntry.allow_partial, WaitlistEntry.quantity_remaining)
            .where(WaitlistEntry.event_id == bindparam("event_id"), WaitlistEntry.status == "waiting"))


def mark(entry):
    """An entry's waiter mark: 'p' if it takes part of its seats, else the seats it wants (lua/queue.lua)."""
    return "p" if entry.allow_partial else str(entry.quantity_remaining)


def _queue_top(event_id):
    """The largest queue number among the event's waiting entries, as the integer the gate counts on from."""
    top = db.session.scalar(select(func.max(WaitlistEntry.queue_seq)).where(WaitlistEntry.event_id == event_id,
                                                                            WaitlistEntry.status == "waiting"))
    return int(ceil(top or Decimal(0)))


@dataclass(frozen=True)
class Waiting:
    """PostgreSQL's waiting entries of an event, as reconcile compares them with the gate."""
    marks: dict  # gate key -> mark

    def totals(self):
        partial = sum(1 for value in self.marks.values() if value == "p")
        strict = Counter(value for value in self.marks.values() if value != "p")
        return len(self.marks), partial, simplejson.dumps(strict)


def waiting_entries(event_id):
    return Waiting({entry.gate_key: mark(entry) for entry in db.session.execute(_WAITING, {"event_id": event_id})})


def fix(event, *, free, paused, waiting, resolved, drop, set_marks):
    """Run lua/fix.lua (see it); returns its reply, or None when the gate is missing."""
    count, partial, strict = waiting.totals()
    reply = script("fix")(keys=[key(event)], args=[
        free, count, partial, strict, _queue_top(event.id), int(paused), len(resolved), len(drop), *resolved,
        *drop, *[part for pair in set_marks.items() for part in pair]])
    return None if int(reply[0]) == -1 else [int(value) for value in reply]


def build(event, *, free, paused, waiting):
    """Build a missing gate from numbers the caller read (under the event's row lock)."""
    return int(script("init")(keys=[key(event)], args=[
        free, _queue_top(event.id), int(paused), *[part for pair in waiting.marks.items() for part in pair]]))


def number_at_least(event, queue_seq):
    """Make the gate number later joins after `queue_seq` (an entry moved to the back of the queue)."""
    return bool(int(script("renumber")(keys=[key(event)], args=[int(ceil(queue_seq))])))


def set_paused(event, paused):
    """Mirror a pause or resume of the queue (under the event's row lock, before it commits)."""
    return bool(int(script("pause")(keys=[key(event)], args=[int(paused)])))


@dataclass(frozen=True)
class Live:
    available: int  # seats a direct booking can take now (none while the queue claims them)
    waiting: int  # waitlist entries, joins in flight included


def live_counts(events):
    """Live seats and waitlist size per event id, for the events whose gate exists.
    The others (no gate yet, or Redis unreachable) are left out for PostgreSQL to answer.
    One pipelined round trip: EVALSHA directly, because a pipeline that runs a registered
    script first asks Redis whether the script exists (a second trip)."""
    events = list(events)
    if not events:
        return {}
    look = script("look")
    replies = None
    for _attempt in range(2):
        try:
            pipe = redis_client.pipeline(transaction=False)
            for event in events:
                pipe.evalsha(look.sha, 1, key(event))
            replies = pipe.execute()
            break
        except redis.exceptions.NoScriptError:  # after SCRIPT FLUSH or a restart
            redis_client.script_load(look.script)
        except redis.exceptions.RedisError:  # reads degrade to PostgreSQL, they never fail
            return {}
    if replies is None:
        return {}
    return {event.id: Live(available=int(available), waiting=int(waiting))
            for event, (available, waiting) in zip(events, replies) if int(available) >= 0}


def holds(event):
    """In-flight holds of an event: {hold_id: (taken, waitlisted, ts)}."""
    found = {}
    for name, value in redis_client.hscan_iter(key(event), match="h:*", count=500):
        taken, waitlisted, ts = value.split("|")[:3]
        found[name[2:]] = (int(taken), waitlisted == "1", int(ts))
    return found


def waiter_marks(event):
    """The waiter marks {gate key: mark}, read incrementally: a long queue never blocks Redis in one command."""
    return {name[2:]: value for name, value in redis_client.hscan_iter(key(event), match="w:*", count=1000)}


def state(event):
    """The raw gate (for reconcile reports and tests)."""
    return redis_client.hgetall(key(event))


def free_seats(event):
    """Seats not booked and not held, read from the gate (rebuilt if missing)."""
    for _attempt in range(2):
        value = redis_client.hget(key(event), "avail")
        if value is not None:
            return int(value)
        rebuild(event)
    return 0


def gate_keys():
    """Every gate in this Redis: {key: (event id, token)}."""
    found = {}
    for name in redis_client.scan_iter(match=f"{KEY_PREFIX}*", count=1000):
        parsed = parse_key(name)
        if parsed is not None:
            found[name] = parsed
    return found


def tolerating_redis_down(func, *args, **kwargs):
    """For mirrors of a change PostgreSQL already holds: a Redis failure is logged and left
    to reconcile (which rebuilds or corrects the gate from PostgreSQL); returns None then."""
    try:
        return func(*args, **kwargs)
    except REDIS_UNAVAILABLE:
        current_app.logger.warning("Redis unavailable; the seat gate will be corrected by reconcile")
        return None
