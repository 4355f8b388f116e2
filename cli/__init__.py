"""The `envelope` command: a face over envelope/, like web/ and worker/."""
