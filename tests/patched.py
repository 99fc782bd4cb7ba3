"""Run a server or worker with a fault injected into the seat engine, for the tests that
kill processes mid-flight: `python -m tests.patched FAULT SECONDS -- MODULE ARGS...`
(e.g. `... booking-pause 2 -- gunicorn --config gunicorn.conf.py wsgi:app`). The fault is
monkeypatched in here, before the module runs, so no production module carries a switch."""
import runpy
import sys
import time


def booking_pause(seconds):
    """Every booking waits between its Redis take and its PostgreSQL commit."""
    from evently.seats import admission

    record = admission.record

    def paused(**kwargs):
        time.sleep(seconds)
        return record(**kwargs)

    admission.record = paused


def promotion_pause(seconds):
    """Every promotion step waits after taking its seats in Redis, before it commits."""
    from evently.seats import gate

    take = gate.take

    def paused(event, **kwargs):
        decision = take(event, **kwargs)
        if kwargs.get("mode") == "promote":
            time.sleep(seconds)
        return decision

    gate.take = paused


FAULTS = {"booking-pause": booking_pause, "promotion-pause": promotion_pause}


def command(fault, seconds, module, *args):
    """The argv that runs `module` with `fault` injected."""
    return [sys.executable, "-m", "tests.patched", fault, str(seconds), "--", module, *args]


def main():
    fault, seconds, separator, module, *args = sys.argv[1:]
    assert separator == "--", __doc__
    FAULTS[fault](float(seconds))
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
