"""Celery configured from the Flask app; every task runs inside an app context."""
import importlib

from celery import Celery, Task
from celery.schedules import schedule

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
    "task_default_queue": "evently",
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


TASK_MODULES = ["evently.seats.tasks", "evently.waitlist.tasks", "evently.notifications.tasks",
                "evently.events.tasks", "evently.analytics.tasks", "evently.auth.tasks"]
MAX_COUNTDOWN = 20


def beat_schedule(config):
    return {
        "seats-reconcile": {"task": "seats.reconcile_all", "schedule": schedule(config["RECONCILE_INTERVAL_SECONDS"])},
        "analytics-rollup": {"task": "analytics.rollup", "schedule": schedule(config.get("ANALYTICS_ROLLUP_SECONDS", 60))},
        "notifications-sweep": {"task": "notifications.sweep", "schedule": schedule(config["OUTBOX_SWEEP_SECONDS"])},
        "event-cancellations-resume": {"task": "events.resume_cancellations", "schedule": schedule(30)},
        "prune-ledgers": {"task": "seats.prune", "schedule": schedule(3600)},
        "prune-auth": {"task": "auth.prune", "schedule": schedule(3600)},
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


def init_celery(app):
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask, include=TASK_MODULES)
    settings = dict(RELIABLE_DEFAULTS)
    settings["beat_schedule"] = beat_schedule(app.config)
    settings["broker_transport_options"] = transport_options(app.config)
    settings.update(app.config["CELERY"])
    celery.conf.update(settings)
    celery.set_default()
    for module in TASK_MODULES:  # register the shared tasks before any worker or beat starts
        importlib.import_module(module)
    app.extensions["celery"] = celery
    return celery
