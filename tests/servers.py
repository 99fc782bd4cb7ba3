"""Real servers for deployment tests, all on free loopback ports: gunicorn as `make run` and the
compose image start it, and nginx with the compose proxy's server block (deploy/nginx/evently.conf)."""
import contextlib
import http.client
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
NGINX_SERVER_BLOCK = ROOT / "deploy" / "nginx" / "evently.conf"
# What the compose file names and the test replaces with loopback ports.
COMPOSE_UPSTREAM, COMPOSE_LISTEN = "server api:5000;", "listen 8080;"


def wait_for_http(port, path="/healthz", timeout=30, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", path)
            if connection.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    raise RuntimeError(f"nothing answered on port {port} within {timeout}s")


@contextlib.contextmanager
def gunicorn(env, *, workers=3, host="127.0.0.1"):
    """gunicorn with the project's gunicorn.conf.py; yields its port."""
    port = free_port()
    full_env = {**os.environ, "HOST": host, "PORT": str(port), "WEB_CONCURRENCY": str(workers), **env}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
                               cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        wait_for_http(port, process=process)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def nginx_binary():
    found = shutil.which("nginx") or next((path for path in ("/usr/sbin/nginx",) if os.path.exists(path)), None)
    if found is None:
        raise RuntimeError("nginx is not installed: `make nginx` (or apt-get install nginx "
                           "libnginx-mod-http-headers-more-filter) installs it")
    return found


def render_nginx(directory, *, upstream_port, listen_port):
    """The proxy image's configuration rebuilt under `directory`: the deployment's own server
    block with only its two addresses replaced, inside a main file with private paths."""
    block = NGINX_SERVER_BLOCK.read_text()
    assert block.count(COMPOSE_UPSTREAM) == 1 and block.count(COMPOSE_LISTEN) == 1
    block = block.replace(COMPOSE_UPSTREAM, f"server 127.0.0.1:{upstream_port};")
    block = block.replace(COMPOSE_LISTEN, f"listen 127.0.0.1:{listen_port};")
    (directory / "evently.conf").write_text(block)
    # As root, nginx's workers would otherwise drop to `nobody`, who cannot enter a private test directory.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {directory}/{kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = directory / "nginx.conf"
    main.write_text(f"""{user}
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
include /etc/nginx/modules-enabled/*.conf;
events {{
    worker_connections 4096;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
{temp}
    include {directory}/evently.conf;
}}
""")
    return main


def nginx_check(main):
    return subprocess.run([nginx_binary(), "-t", "-c", str(main), "-e", str(main.parent / "error.log")],
                          capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def nginx(directory, *, upstream_port):
    """nginx in front of `upstream_port`; yields its own port."""
    port = free_port()
    main = render_nginx(directory, upstream_port=upstream_port, listen_port=port)
    process = subprocess.Popen([nginx_binary(), "-c", str(main), "-e", str(directory / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_http(port, process=process)
        yield port
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
