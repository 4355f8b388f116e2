"""WSGI entry point for the web server: `web.wsgi:app`."""
import gc

from envelope.data_dir import restrict_new_files_to_owner
from envelope.parent_death import die_with_parent
from web import access_log, create_app

die_with_parent()  # a server worker whose server died must not keep serving on its own
restrict_new_files_to_owner()  # the database, mail, uploaded files: readable by this user only
app = create_app()
access_log.install(app, app.extensions["envelope"].settings.access_log)
# gunicorn --preload imports this module once, in the master, then forks
# the workers, which share the app's pages until they write to them. A full
# collection in a worker writes to every tracked object's header and so
# copies most of those pages into each worker (about 15 MB each after light
# use, bench/README.md): what the master made so far is moved out of the
# collector's reach for good (it lives as long as the process anyway).
gc.collect()
gc.freeze()
