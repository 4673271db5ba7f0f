"""moto in server mode, with each request handled under one lock.

moto's own `moto_server` serves requests on many threads, and its in-memory backends are not
thread-safe: concurrent TransactWriteItems fail with "dictionary changed size during iteration",
and a concurrent check-then-put could let two conditional puts through. Real DynamoDB makes each
conditional write atomic; holding one lock per request gives moto the same property. Connections
stay concurrent (keep-alive works); only the engine's work is serialised. The listen backlog is
raised from socketserver's default of 5 so that bursts of parallel connections are not refused.
"""

import argparse
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    server = make_server(args.host, args.port, serialised, threaded=True, request_handler=MotoRequestHandler)
    # socketserver's default backlog is 5: a burst of parallel SDK connections overflows it and
    # gets ECONNREFUSED. Listening again raises the backlog on the same socket.
    server.socket.listen(1024)
    server.serve_forever()


if __name__ == "__main__":
    main()
