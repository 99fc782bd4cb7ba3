"""Who may read the operational endpoints: loopback, plus the networks in METRICS_ALLOWED_NETWORKS."""
import ipaddress
from functools import wraps

from flask import current_app, request

from evently.errors import Forbidden

ALLOWED_NETWORKS = "evently_metrics_networks"


def parse_allowed_networks(state):
    """Blueprint record callback: parse the networks once per app (a bad one raises ValueError)."""
    state.app.extensions[ALLOWED_NETWORKS] = tuple(
        ipaddress.ip_network(network, strict=False) for network in state.app.config["METRICS_ALLOWED_NETWORKS"])


def allowed_networks_only(view):
    """Serve `view` only to loopback and the allowed networks. The client is request.remote_addr,
    which ProxyFix sets from X-Forwarded-For only behind TRUSTED_PROXY_COUNT proxies, so the
    header alone opens nothing."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not is_allowed(request.remote_addr, current_app.extensions[ALLOWED_NETWORKS]):
            raise Forbidden("Metrics are served only to loopback and METRICS_ALLOWED_NETWORKS.")
        return view(*args, **kwargs)

    return wrapper


def is_allowed(address, networks):
    try:
        client = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    client = getattr(client, "ipv4_mapped", None) or client  # ::ffff:127.0.0.1 is 127.0.0.1
    return client.is_loopback or any(client in network for network in networks)
