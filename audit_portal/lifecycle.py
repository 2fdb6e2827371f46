"""Background work started with the server (the in-process collector scheduler, when enabled)."""
from __future__ import annotations

from fastapi import FastAPI


def start_background(app: FastAPI) -> None:
    app.state.background = []


def stop_background(app: FastAPI) -> None:
    for worker in getattr(app.state, "background", []):
        worker.stop()
