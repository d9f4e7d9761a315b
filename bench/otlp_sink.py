"""An OTLP/HTTP receiver that counts and discards what it gets, for `make bench` with tracing
on (docs/tracing.md "Cost"): the exporter's work is measured, no collector's.

    python -m bench.otlp_sink 4318 &
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 make bench

Prints the number of exports and spans it got every ten seconds."""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_ANSWER = ExportTraceServiceResponse().SerializeToString()


class Counts:
    def __init__(self) -> None:
        self.exports = 0
        self.spans = 0
        self.lock = threading.Lock()


def handler_for(counts: Counts) -> type[BaseHTTPRequestHandler]:
    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            export = ExportTraceServiceRequest.FromString(body)
            spans = sum(len(s.spans) for r in export.resource_spans for s in r.scope_spans)
            with counts.lock:
                counts.exports += 1
                counts.spans += spans
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(_ANSWER)))
            self.end_headers()
            self.wfile.write(_ANSWER)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per export would drown the counts

    return Sink


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4318
    counts = Counts()
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(counts))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"OTLP/HTTP sink on http://127.0.0.1:{server.server_port}", flush=True)
    try:
        while True:
            time.sleep(10)
            print(f"exports {counts.exports}  spans {counts.spans}", flush=True)
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
