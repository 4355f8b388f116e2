"""WSGI entry point for gunicorn: `gunicorn web.wsgi:app`."""
from envelope.config import restrict_new_files_to_owner
from web import create_app

restrict_new_files_to_owner()  # the database, mail, uploaded files: readable by this user only
app = create_app()
