"""The embedded worker: one per data directory, started once per app process (a file lock guards it
against a second `streamlit run` or a separate `segstudio worker` on the same data)."""

from __future__ import annotations

import atexit
import logging

import streamlit as st

from core.config import Settings
from core.jobs.worker import Worker, WorkerBusyError

log = logging.getLogger("segstudio.app")


@st.cache_resource(show_spinner=False)
def embedded_worker(data_dir: str, database_url: str) -> Worker | None:
    settings = Settings.from_env()
    try:
        worker = Worker(settings).start()
    except WorkerBusyError as exc:
        log.info("not starting an embedded worker: %s", exc)
        return None
    atexit.register(worker.shutdown, wait=False)
    return worker


def ensure_worker(settings: Settings) -> Worker | None:
    if not settings.embedded_worker:
        return None
    return embedded_worker(str(settings.data_dir.resolve()), settings.database_url)
