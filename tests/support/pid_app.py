"""A WSGI application for the gunicorn integration test: answers with the worker's pid and the
pid of its arbiter (the generation reuserun started)."""
import os


def app(environ, start_response):
    body = f"pid={os.getppid()} worker={os.getpid()}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
