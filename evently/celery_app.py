"""Celery configured from the Flask app; every task runs inside an app context."""
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
    "task_default_queue": "evently",
    "broker_connection_retry_on_startup": True,
    "broker_transport_options": {"visibility_timeout": 3600},
    "result_expires": 3600,
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    "timezone": "UTC",
    "enable_utc": True,
    "worker_hijack_root_logger": False,
}


TASK_MODULES = ["evently.seats.tasks"]


def beat_schedule(config):
    return {
        "seats-reconcile": {"task": "seats.reconcile_all", "schedule": schedule(config["RECONCILE_INTERVAL_SECONDS"])},
    }


def init_celery(app):
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask, include=TASK_MODULES)
    settings = dict(RELIABLE_DEFAULTS)
    settings["beat_schedule"] = beat_schedule(app.config)
    settings.update(app.config["CELERY"])
    celery.conf.update(settings)
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
