"""Entry point for `celery -A worker.beat_app beat` (Procfile and `envelope serve`):
the same app as worker.celery_app without the task modules beat never runs."""
from envelope.config import Settings
from envelope.data_dir import restrict_new_files_to_owner
from worker.app import make_celery

restrict_new_files_to_owner()  # beat's schedule file, the broker database
app = make_celery(Settings.from_env(), with_tasks=False)
