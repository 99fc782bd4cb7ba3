"""A per-process, one-second cache of the public event list.

The catalogue page is the hottest read in a flash sale and the same for every
visitor, yet rendering it costs three queries, a Redis round trip and the
serialization of twenty events. Each web process keeps the rendered body for
EVENT_LIST_CACHE_SECONDS (default 1; 0 turns it off), keyed by the raw query
string. The lookup comes before the query is parsed: a query string is only
kept once it validated and rendered a 200, and the same string validates the
same way again, so a hit skips webargs too (a fifth of a hit's CPU). The
token, if any, is still checked first, so a bad one is refused either way.
What the cache costs: `availableSeats` and `waitlistCount` on the list may be
up to that long behind, as may an admin's edit seen from another process. The
event detail and every booking decision stay live, so nothing is sold from a
stale number. The admin view (`status=`) is never cached.

Per process rather than in Redis: a hit then costs no round trip at all, and a
Redis outage cannot turn into errors on the list.
"""
from functools import wraps

from flask import current_app, request

from evently.auth.tokens import optional_user
from evently.common.ttl_cache import LockedTTLCache

MAX_PAGES = 512  # distinct (filter, sort, page) combinations kept per process


def init_app(app):
    seconds = app.config["EVENT_LIST_CACHE_SECONDS"]
    app.extensions["evently_list_cache"] = LockedTTLCache(seconds=seconds, max_entries=MAX_PAGES) if seconds > 0 \
        else None


def serve_public_page(view):
    """Wrap the list view (outside its argument parsing): answer a public page
    from the cache, or render it through `view` and keep a 200's body."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        cache = current_app.extensions.get("evently_list_cache")
        if cache is None or "status" in request.args:  # the admin view is never cached
            return view(*args, **kwargs)
        optional_user()  # a bad token is refused, hit or miss (a miss's view reuses the answer)
        key = request.query_string
        body = cache.get(key)
        if body is not None:
            return current_app.response_class(body, status=200, mimetype=current_app.json.mimetype)
        response = view(*args, **kwargs)
        if response.status_code == 200:
            cache.put(key, response.get_data())
        return response

    return wrapper
