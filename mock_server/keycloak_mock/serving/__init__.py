"""Serving the mock: the CLI and its options, the WSGI entry, gunicorn, the in-process server."""
