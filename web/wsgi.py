"""WSGI entry point for the web server: `web.wsgi:app`."""
from envelope.config import restrict_new_files_to_owner
from web import access_log, create_app

restrict_new_files_to_owner()  # the database, mail, uploaded files: readable by this user only
app = create_app()
access_log.install(app, app.extensions["envelope"].settings.access_log)
