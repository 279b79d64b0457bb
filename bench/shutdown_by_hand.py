#!/usr/bin/env python3
"""A rolling restart done by hand, without reuserun: what a server loses in its own shutdown.

Binds 127.0.0.1:0 once, starts the server with the socket as fd 3 ({fd} in its argv becomes 3,
LISTEN_FDS/LISTEN_PID are set too), and under load from two clients (a new connection per
request) starts a second copy, lets it settle, SIGTERMs the first, and so on, --restarts times.
Whatever fails then is the server's own doing: nothing but it ever touches the socket.

  bench/shutdown_by_hand.py --restarts 20 -- python3 -m uvicorn --app-dir examples/uvicorn \\
      --fd {fd} app:app

Bounded: --restarts cycles of --settle seconds, loopback only.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time


def start(command, listener):
    # sh sets LISTEN_PID to its own pid, which the server keeps across exec.
    argv = ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"]
    argv += [arg.replace("{fd}", "3") for arg in command]

    def in_child():
        os.dup2(listener.fileno(), 3)

    env = dict(os.environ, LISTEN_FDS="1")
    return subprocess.Popen(argv, preexec_fn=in_child, pass_fds=(3,), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def client(port, stop, counts, lock):
    while not stop.is_set():
        kind = "ok"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
                if not data:
                    kind = "empty answer"
                elif not data.startswith(b"HTTP/1.1 200") and not data.startswith(b"HTTP/1.0 200"):
                    kind = "bad answer"
        except ConnectionResetError:
            kind = "reset"
        except ConnectionRefusedError:
            kind = "refused"
        except socket.timeout:
            kind = "timeout"
        with lock:
            counts[kind] = counts.get(kind, 0) + 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=20)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds a new copy gets")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    old = start(args.command, listener)
    time.sleep(args.settle)
    stop, lock, counts = threading.Event(), threading.Lock(), {}
    clients = [threading.Thread(target=client, args=(port, stop, counts, lock)) for _ in range(2)]
    for thread in clients:
        thread.start()
    try:
        for _ in range(args.restarts):
            new = start(args.command, listener)
            time.sleep(args.settle)  # no readiness check: a generous settle instead
            old.send_signal(signal.SIGTERM)
            old.wait(timeout=30)
            old = new
    finally:
        stop.set()
        for thread in clients:
            thread.join()
        old.send_signal(signal.SIGTERM)
        old.wait(timeout=30)
    failed = sum(count for kind, count in counts.items() if kind != "ok")
    print(f"{' '.join(args.command)}: {args.restarts} restarts by hand, "
          f"{sum(counts.values())} requests, {failed} failed "
          f"{ {k: v for k, v in counts.items() if k != 'ok'} }")
    return 0


if __name__ == "__main__":
    sys.exit(main())
