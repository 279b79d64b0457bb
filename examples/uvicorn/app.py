# uvicorn takes reuserun's socket with --fd, and reuserun writes the number into its argv:
#
#   reuserun --port 8080 --bind 127.0.0.1 -- python3 -m uvicorn --fd {fd} app:app
#
# SIGTERM is uvicorn's graceful shutdown: stop accepting, finish open requests, exit 0.


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b"hello from uvicorn\n"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
