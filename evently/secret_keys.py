"""The signing secrets (SECRET_KEY, JWT_SECRET_KEY) and the first admin's password, failing closed.

- Production: each must come from the environment; a signing secret of 32+ characters that
  was never published. One line names every one that is missing or weak, and nothing starts.
- Development and tests: an unset signing secret is generated at first start and kept in the
  instance folder (`instance/secrets.json`, git-ignored, mode 0600). Every process of the
  checkout (gunicorn workers, Celery, the tests' subprocesses) then signs with the same key,
  and no two checkouts share one.
- Anywhere: a value that was ever printed in this repository is refused, and a server bound
  beyond loopback is held to the production rules whatever EVENTLY_ENV says
  (`refuse_exposed_development_secrets`, called by gunicorn.conf.py before it binds).
"""
import ipaddress
import json
import os
import secrets
import socket

from config import DEV_ADMIN_PASSWORD, get_config

SIGNING_SECRETS = ("SECRET_KEY", "JWT_SECRET_KEY")
MIN_LENGTH = 32
# Defaults this repository once printed (README, docker-compose.yml): anyone can sign with them.
PUBLISHED = frozenset({"dev-secret-key-change-me", "dev-jwt-secret-key-change-me-please-32b"})
SECRETS_FILE = "secrets.json"
HOW_TO = "signing secrets need 32+ random characters, e.g. `openssl rand -base64 48`; see docs/security.md"


def weak_secrets(config):
    """Names of the secrets not fit to serve beyond loopback, in a fixed order."""
    weak = [name for name in SIGNING_SECRETS if not _strong(config.get(name))]
    if config.get("EVENTLY_ADMIN_EMAIL") and config.get("EVENTLY_ADMIN_PASSWORD") in (DEV_ADMIN_PASSWORD, "", None):
        weak.append("EVENTLY_ADMIN_PASSWORD")
    return weak


def _strong(value):
    return bool(value) and len(value) >= MIN_LENGTH and value not in PUBLISHED


def init_app(app):
    config = app.config
    if config["ENV_NAME"] == "production":
        weak = weak_secrets(config)
        if weak:
            raise RuntimeError(f"Refusing to start in production: set {', '.join(weak)} ({HOW_TO}).")
        return
    published = [name for name in SIGNING_SECRETS if config.get(name) in PUBLISHED]
    if published:
        raise RuntimeError(f"Refusing to start: {', '.join(published)} is a published default; unset it "
                           f"for a generated local secret, or set your own ({HOW_TO}).")
    missing = [name for name in SIGNING_SECRETS if not config.get(name)]
    if missing:
        stored = load_or_create(os.path.join(app.instance_path, SECRETS_FILE))
        config.update({name: stored[name] for name in missing})


def load_or_create(path):
    """The secrets kept at `path`, created there first if missing. Several processes may start at
    once: each writes its own candidate aside and links it into place, which fails for all but
    the first, and every process then reads the one that won."""
    try:
        with open(path) as stored:
            return json.load(stored)
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    candidate = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump({name: secrets.token_urlsafe(48) for name in SIGNING_SECRETS}, out)
    try:
        os.link(candidate, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(candidate)
    with open(path) as stored:
        return json.load(stored)


def refuse_exposed_development_secrets(addresses, config=None):
    """Raise RuntimeError (gunicorn prints it and exits 1) if any address this server is about to
    bind reaches beyond loopback while a secret is missing from the environment or weak.
    `addresses` as gunicorn parses its binds: (host, port) tuples, or a Unix socket path."""
    exposed = [address for address in addresses if not _is_loopback(address)]
    if not exposed:
        return
    settings = config or get_config()
    weak = weak_secrets({name: getattr(settings, name, None) for name in
                         (*SIGNING_SECRETS, "EVENTLY_ADMIN_EMAIL", "EVENTLY_ADMIN_PASSWORD")})
    if weak:
        where = ", ".join(f"{host or '*'}:{port}" for host, port in exposed)
        raise RuntimeError(f"Refusing to serve on {where}, beyond loopback, without real secrets: "
                           f"set {', '.join(weak)} ({HOW_TO}), or bind 127.0.0.1.")


def _is_loopback(address):
    if not isinstance(address, tuple):
        return True  # a Unix socket (or an inherited fd): reachable only on this machine
    host = address[0]
    if not host:
        return False  # "" binds every interface
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        resolved = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(resolved) and all(ipaddress.ip_address(ip.split("%")[0]).is_loopback for ip in resolved)
