"""JSON log lines on stderr, one object per line, carrying the request id (and, with tracing
on, the trace and span ids), masked by the redaction filter (server/redaction.py)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from opentelemetry import trace

from server import redaction
from server.context import request_id_var

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, *, trace_ids: bool = False) -> None:
        super().__init__()
        # With tracing off no line looks for a span: one attribute test per line.
        self.trace_ids = trace_ids

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
            # Which worker process wrote it (`serve --workers N` share one stderr).
            "pid": record.process,
        }
        if self.trace_ids:
            span = trace.get_current_span().get_span_context()
            if span.is_valid:  # the ids as trace back ends show them (W3C, lower-case hex)
                entry["trace_id"] = f"{span.trace_id:032x}"
                entry["span_id"] = f"{span.span_id:016x}"
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        # The redaction filter leaves the exception as masked text (exc_text) only.
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str)


def configure(level: str, *, trace_ids: bool = False) -> None:
    """JSON lines on stderr for every logger, each line masked by the redaction filter.
    `trace_ids`: tracing is on, each line written inside a span names it."""
    # What a line never shows is not gathered for it (the logging HOWTO's "Optimization"):
    # where the call was made (a walk up the stack per line), its thread and its
    # multiprocessing name. Every call writes one line; this was a fifth of its cost.
    logging._srcfile = None  # the documented switch
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(trace_ids=trace_ids))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    redaction.install_everywhere()
