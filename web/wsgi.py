"""WSGI entry point for the web server: `web.wsgi:app`."""
from envelope.config import restrict_new_files_to_owner
from envelope.parent_death import die_with_parent
from web import access_log, create_app

die_with_parent()  # a server worker whose server died must not keep serving on its own
restrict_new_files_to_owner()  # the database, mail, uploaded files: readable by this user only
app = create_app()
access_log.install(app, app.extensions["envelope"].settings.access_log)
