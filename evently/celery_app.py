"""Celery configured from the Flask app; every task runs inside an app context.

Two queues per stack, both named from config (CELERY_QUEUE): bookings' work
(promotions, notifications, event cancellations) on CELERY_QUEUE, and beat's
periodic maintenance on "<CELERY_QUEUE>.maintenance", taken by a worker started
with `--maintenance`. That worker sends no task events, so Flower's task list
shows bookings' tasks only; its own metrics port counts what it runs.
"""
import importlib
import os
import tempfile

import click
from celery import Celery, Task, signals
from celery.schedules import schedule

from evently.extensions import is_cluster_url
from evently.ops import metrics

# Settings from the reliability findings: a task is acknowledged only after it
# ran, comes back if its worker dies, one at a time per process, and the Redis
# visibility timeout outlives every countdown so nothing is redelivered early.
RELIABLE_DEFAULTS = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "task_track_started": True,
    # Effects live in PostgreSQL; nothing waits on task results, so none are stored.
    "task_ignore_result": True,
    "broker_connection_retry_on_startup": True,
    "broker_connection_timeout": 2,
    # Hard limit below the visibility timeout: a task never outlives its lease.
    "task_soft_time_limit": 20,
    "task_time_limit": 25,
    "result_expires": 3600,
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    "timezone": "UTC",
    "enable_utc": True,
    "worker_hijack_root_logger": False,
}


TASK_MODULES = ["evently.seats.tasks", "evently.notifications.tasks", "evently.analytics.tasks", "evently.auth.tasks",
                "evently.tickets.tasks"]
MAX_COUNTDOWN = 20
# Beat's periodic jobs: each is idempotent and guarded, none is a user's request.
MAINTENANCE_TASKS = ("seats.reconcile_all", "seats.prune", "notifications.sweep", "events.resume_cancellations",
                     "analytics.rollup", "auth.prune", "tickets.send_reminders")


def maintenance_queue(queue):
    return f"{queue}.maintenance"


def beat_schedule(config):
    return {
        "seats-reconcile": {"task": "seats.reconcile_all", "schedule": schedule(config["RECONCILE_INTERVAL_SECONDS"])},
        "analytics-rollup": {"task": "analytics.rollup", "schedule": schedule(config.get("ANALYTICS_ROLLUP_SECONDS", 60))},
        "notifications-sweep": {"task": "notifications.sweep", "schedule": schedule(config["OUTBOX_SWEEP_SECONDS"])},
        "event-cancellations-resume": {"task": "events.resume_cancellations", "schedule": schedule(30)},
        "prune-ledgers": {"task": "seats.prune", "schedule": schedule(3600)},
        "prune-auth": {"task": "auth.prune", "schedule": schedule(3600)},
        "event-reminders": {"task": "tickets.send_reminders",
                            "schedule": schedule(config["REMINDER_INTERVAL_SECONDS"])},
    }


def transport_options(config):
    """Redis transport: a message whose worker died is restored after the
    visibility timeout, swept every second instead of kombu's ~100 s. Every
    countdown in Evently is shorter than the timeout (retries cap at
    MAX_COUNTDOWN), so a delayed task is never redelivered early."""
    return {
        "visibility_timeout": config["CELERY_VISIBILITY_TIMEOUT"],
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
        "socket_timeout": 2,
        "socket_connect_timeout": 2,
    }


def refuse_cluster_broker(settings):
    """kombu's Redis transport and Celery's Redis result backend talk to one server: a
    redis+cluster:// URL there would fail at the first task, so it fails at start-up instead."""
    for name in ("broker_url", "result_backend"):
        if is_cluster_url(settings.get(name) or ""):
            raise RuntimeError(f"Refusing to start: Celery's {name} cannot be a Redis Cluster; set "
                               "CELERY_BROKER_URL to a plain redis:// URL (docs/scaling.md).")


def init_celery(app):
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask, include=TASK_MODULES)
    queue = app.config["CELERY_QUEUE"]
    settings = dict(RELIABLE_DEFAULTS)
    settings["task_default_queue"] = queue
    settings["task_routes"] = {name: {"queue": maintenance_queue(queue)} for name in MAINTENANCE_TASKS}
    # Monitoring is per stack too: on a shared Redis DB, `celery inspect` and Flower
    # reach only this stack's workers and hear only their events.
    settings["control_exchange"] = queue
    settings["event_exchange"] = f"{queue}.events"
    settings["beat_schedule"] = beat_schedule(app.config)
    # Beat keeps its last run times in a file that one beat locks: one file per stack,
    # so a second stack's beat (another database, same machine) can start.
    settings["beat_schedule_filename"] = os.path.join(tempfile.gettempdir(), f"evently-celerybeat-{queue}")
    settings["broker_transport_options"] = transport_options(app.config)
    # Read by the worker signals below (Celery keeps unknown keys as they are).
    settings["evently_metrics"] = {"host": app.config["METRICS_HOST"], "port": app.config["WORKER_METRICS_PORT"],
                                   "maintenance_port": app.config["MAINTENANCE_METRICS_PORT"]}
    settings.update(app.config["CELERY"])
    refuse_cluster_broker(settings)
    celery.conf.update(settings)
    celery.user_options["worker"].add(click.Option(
        ["--maintenance"], is_flag=True, default=False,
        help="Run beat's periodic maintenance (the <CELERY_QUEUE>.maintenance queue) instead of bookings' tasks."))
    celery.set_default()
    for module in TASK_MODULES:  # register the shared tasks before any worker or beat starts
        importlib.import_module(module)
    app.extensions["celery"] = celery
    return celery


# Worker-side wiring. Signals are process-wide, so the handlers read the app they
# are given (sender/instance) rather than closing over one.

@signals.celeryd_init.connect
def choose_queue(sender=None, instance=None, conf=None, options=None, **_kwargs):
    """`--maintenance` consumes the maintenance queue; otherwise the default
    (bookings') queue is consumed. An explicit `--queues` wins over both."""
    if options.get("maintenance") and not options.get("queues"):
        instance.app.amqp.queues.select([maintenance_queue(conf.task_default_queue)])


@signals.worker_init.connect
def serve_metrics(sender=None, **_kwargs):
    """In the worker's main process, before its pool forks: serve the pool's summed metrics."""
    settings = sender.app.conf.evently_metrics
    port = settings["maintenance_port"] if sender.options.get("maintenance") else settings["port"]
    if port:
        sender.evently_metrics_server = metrics.serve(host=settings["host"], port=port)


@signals.worker_shutdown.connect
def stop_metrics(sender=None, **_kwargs):
    server = getattr(sender, "evently_metrics_server", None)
    if server is not None:
        server.shutdown()
        server.server_close()


signals.task_postrun.connect(metrics.count_task, weak=False)


@signals.worker_process_shutdown.connect
def forget_pool_process(pid=None, **_kwargs):
    metrics.process_exited(pid)
