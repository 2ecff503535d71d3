"""moto's S3 server, handling one request at a time.

`moto_server` serves each request on its own thread, and its PutObject checks
`If-None-Match: *` and stores the object as two separate steps
(moto/s3/responses.py: `get_object(...) is not None`, then `put_object(...)`). Two
writers committing the same Delta log version at once can then both be told they won,
and one commit is silently replaced -- a lost write that real S3 never allows, since
its conditional writes are atomic. Delta's commit protocol (and our concurrency test)
relies on that atomicity, so the tests run moto behind one lock: every request is
handled, and its whole response produced, before the next starts.

Usage: python moto_serialised.py HOST PORT (with the interpreter that has moto[server]).
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        with lock:
            # Drain the response inside the lock: moto may build it lazily.
            return list(app(environ, start_response))

    run_simple(host, port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
