"""CPU a request spends on its Prometheus metrics, per process and in multiprocess mode.

    .venv/bin/python -m bench.metrics_cost      # ~10 s

Every request of the API increments one counter and observes one histogram
(evently/ops/metrics.py, observe_request); a booking adds two counters. Under
gunicorn the values live in PROMETHEUS_MULTIPROC_DIR files (prometheus_client's
multiprocess mode) instead of process memory. This times the per-request hook's
two metric updates both ways, each in a fresh interpreter (the mode is chosen
at import), alternating, and prints the CPU per request. The result is in
docs/observability.md ("What the metrics cost").
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

REQUESTS = 200_000


def child(mode):
    if mode == "multiprocess":
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="evently-bench-metrics-cost-")
    try:
        time_updates()
    finally:
        if mode == "multiprocess":
            shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def time_updates():
    from prometheus_client import Counter, Histogram

    requests = Counter("bench_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
    latency = Histogram("bench_http_request_seconds", "HTTP request latency", ["endpoint"])

    def observe():
        requests.labels(method="POST", endpoint="/api/bookings", status="201").inc()
        latency.labels(endpoint="/api/bookings").observe(0.004)

    for _ in range(10_000):
        observe()
    started = time.process_time()
    for _ in range(REQUESTS):
        observe()
    print(f"{(time.process_time() - started) / REQUESTS * 1e6:.2f}")


def main():
    results = {"in-process": [], "multiprocess": []}
    for _ in range(3):
        for mode in results:
            out = subprocess.run([sys.executable, "-m", "bench.metrics_cost", "--child", mode],
                                 capture_output=True, text=True, check=True).stdout
            results[mode].append(float(out))
    for mode, samples in results.items():
        print(f"{mode:>13}: {', '.join(f'{sample:.2f}' for sample in samples)} µs of CPU per request's metric updates")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        raise SystemExit(main())
