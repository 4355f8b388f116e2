"""Entry point for `celery -A worker.celery_app worker` (Procfile and `envelope serve`); beat uses worker.beat_app."""
from envelope.config import Settings
from envelope.data_dir import restrict_new_files_to_owner
from worker.app import make_celery

restrict_new_files_to_owner()  # the broker database, beat's schedule, mail, spooled downloads
app = make_celery(Settings.from_env())
