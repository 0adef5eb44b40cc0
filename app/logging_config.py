"""One logging set-up for the app and for uvicorn itself: every line one JSON object (or one text line
with LOG_FORMAT=text), times RFC 3339 in UTC, the request id on every line logged during a request.

`ugs serve` hands `log_config(settings)` to uvicorn, so its own lines (startup, shutdown, errors,
the supervisor of several workers) go through the same handler; `create_app` applies the same
dictionary again, for servers started some other way."""

import logging
import logging.config
import time
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from app.settings import Settings

# Set by the request middleware for the duration of one request.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"


def rfc3339_utc(created: float) -> str:
    """`2026-11-25T20:52:22.708Z`: UTC, milliseconds, never the local zone."""
    seconds = int(created)
    milliseconds = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{milliseconds:03d}Z"


class JsonLineFormatter(JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            LINE_FORMAT,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
            # uvicorn adds a second, ANSI-coloured copy of some messages.
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return rfc3339_utc(record.created)


class TextLineFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(LINE_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return rfc3339_utc(record.created)


class RequestIdFilter(logging.Filter):
    """Puts the id of the request being served on every record logged while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def log_config(settings: Settings) -> dict[str, Any]:
    formatter = JsonLineFormatter if settings.log_format == "json" else TextLineFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"line": {"()": formatter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "line",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stdout"], "level": settings.log_level},
        "loggers": {
            # uvicorn's loggers keep no handlers of their own: everything reaches the one above.
            "uvicorn": {"handlers": [], "propagate": True, "level": settings.log_level},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # Our access line (app.access) has the request id, organization and key; uvicorn's not.
            "uvicorn.access": {"handlers": [], "propagate": False},
            # One line per Alembic plugin at every `ugs migrate`; the migrations' own lines stay.
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(log_config(settings))
    # Warnings would otherwise be written to stderr as bare text.
    logging.captureWarnings(True)
