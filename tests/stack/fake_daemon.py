"""A stand-in for `lakehouse serve` in the supervisor's tests: answers /ready on its port, and misbehaves on demand.

argv: NAME PORT DIR. Behaviour comes from files in DIR named after the daemon: ``NAME.crash`` (exit 1 once ready,
the file is removed first, so the next start stays up), ``NAME.fail`` (exit 1 before listening, every time),
``NAME.config`` (exit 2 at once), ``NAME.slow-stop`` (take 0.5 s to stop), ``NAME.stubborn`` (ignore SIGTERM).
Each start appends a line to ``NAME.starts``; a clean stop writes ``NAME.drained``.
"""

from __future__ import annotations

import http.server
import signal
import sys
import threading
import time
from pathlib import Path

name, port, where = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
with (where / f"{name}.starts").open("a") as f:
    f.write(f"{time.time()}\n")
print(f"plain text from {name}", flush=True)
if (where / f"{name}.config").exists():
    sys.exit(2)
if (where / f"{name}.fail").exists():
    sys.exit(1)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
stopping = threading.Event()


def on_term(*_: object) -> None:
    if (where / f"{name}.stubborn").exists():
        return
    stopping.set()


signal.signal(signal.SIGTERM, on_term)
threading.Thread(target=server.serve_forever, daemon=True).start()
crash = where / f"{name}.crash"
if crash.exists():
    time.sleep(0.5)
    crash.unlink()
    sys.exit(1)
stopping.wait()
if (where / f"{name}.slow-stop").exists():
    time.sleep(0.5)
server.shutdown()
(where / f"{name}.drained").write_text("yes")
print('{"level": "info", "msg": "bye"}', flush=True)
