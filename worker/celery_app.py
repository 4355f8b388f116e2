"""Entry point for `celery -A worker.celery_app worker|beat` (Procfile and `envelope serve`)."""
from envelope.config import Settings
from worker.app import make_celery

app = make_celery(Settings.from_env())
