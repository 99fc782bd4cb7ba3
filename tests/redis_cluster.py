"""A real Redis Cluster for tests: three primaries on loopback, started with
`redis-server --cluster-enabled yes` and joined with `redis-cli --cluster create`,
each node in its own temporary directory (a node writes its nodes.conf there)."""
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

import redis
from redis.cluster import RedisCluster


# A lost primary is declared failed after this long (the default is 15 s).
NODE_TIMEOUT_MS = 1000


# Every node also listens on its port + 10,000 (the cluster bus), so ports are taken from a
# range whose bus ports are valid too (an ephemeral port above 55,535 has none).
PORT_RANGE = (20000, 30000)


def free_node_port(taken):
    for _ in range(1000):
        port = random.randint(*PORT_RANGE)
        if port not in taken and all(_bindable(candidate) for candidate in (port, port + 10000)):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _bindable(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class LocalCluster:
    def __init__(self, primaries=3):
        self.ports = []
        for _ in range(primaries):
            self.ports.append(free_node_port(self.ports))
        self.processes = {}
        self.directory = None

    @property
    def url(self):
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self):
        for binary in ("redis-server", "redis-cli"):
            if shutil.which(binary) is None:
                raise RuntimeError(f"{binary} is not installed")
        self.directory = tempfile.mkdtemp(prefix="evently-cluster-")
        for port in self.ports:
            self.start_node(port)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        self.wait_until_ok()
        return self

    def start_node(self, port):
        log = os.path.join(self.directory, f"node-{port}.log")
        self.processes[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", f"nodes-{port}.conf", "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
             "--save", "", "--appendonly", "no", "--dir", self.directory, "--logfile", log],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=port)
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        with open(log) as lines:
            raise RuntimeError(f"cluster node {port} did not start: {lines.read()[-500:]}")

    def wait_until_ok(self, timeout=30):
        """Every node reports cluster_state:ok (all 16,384 slots served)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [redis.Redis(port=port).cluster("info")["cluster_state"] for port in self.ports]
            if all(state == "ok" for state in states):
                return
            time.sleep(0.1)
        raise RuntimeError("the test cluster did not reach cluster_state:ok")

    def state_seen_by_survivors(self):
        return {redis.Redis(port=port).cluster("info")["cluster_state"] for port in self.processes}

    def client(self):
        return RedisCluster(host="127.0.0.1", port=self.ports[0], decode_responses=True)

    def kill(self, port):
        process = self.processes.pop(port)
        process.kill()
        process.wait(10)

    def stop(self):
        for process in self.processes.values():
            process.kill()
            process.wait(10)
        self.processes.clear()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
