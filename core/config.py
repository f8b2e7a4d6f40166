"""Settings, built once from the environment and passed explicitly everywhere."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.errors import InvalidInputError

DURATIONS = ("quick", "extended")


def _env_float(env: Mapping[str, str], name: str, default: float, *, unit: str = "seconds") -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise InvalidInputError(f"{name}={raw!r} is not a number; set it to a number of {unit}, e.g. {default:g}") from exc
    if value <= 0:
        raise InvalidInputError(f"{name}={raw!r} must be positive")
    return value


def _env_switch(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "off", "false", "no"):
        return False
    if raw in ("1", "on", "true", "yes"):
        return True
    raise InvalidInputError(f"{name}={env[name]!r} is not known; set it to on or off")


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Build with :meth:`from_env`; never read the environment elsewhere."""

    data_dir: Path = Path("data")
    database_url: str = ""
    device: str = "auto"  # auto | cpu | cuda
    quick_seconds: float = 300.0
    extended_seconds: float = 1800.0
    max_megapixels: float = 625.0
    max_wsi_megapixels: float = 40_000.0  # whole-slide images (read tile by tile): 200,000 x 200,000 px
    max_channels: int = 10
    worker_slots: int = 1
    embedded_worker: bool = True
    heartbeat_stale_seconds: float = 60.0
    smtp: Mapping[str, str] = field(default_factory=dict)
    lab_password_hash: str = ""
    shipped_models: bool = True  # offer the models shipped with segstudio (core.starters)
    accounts: bool = False  # every user signs in (core.accounts); also on once a first admin exists
    session_hours: float = 12.0  # a signed-in session ends after this long
    api_token: str = field(default="", repr=False)  # SEGSTUDIO_TOKEN: the command line's account (scripts)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{(self.data_dir / 'segstudio.db').as_posix()}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        device = env.get("SEGSTUDIO_DEVICE", "auto").strip().lower() or "auto"
        if device not in ("auto", "cpu", "cuda"):
            raise InvalidInputError(f"SEGSTUDIO_DEVICE={device!r} is not known; use auto, cpu or cuda")
        smtp = {
            key: env[f"SEGSTUDIO_SMTP_{key.upper()}"]
            for key in ("host", "port", "user", "password", "sender", "to")
            if env.get(f"SEGSTUDIO_SMTP_{key.upper()}")
        }
        return cls(
            data_dir=Path(env.get("SEGSTUDIO_DATA", "data")).expanduser(),
            database_url=env.get("SEGSTUDIO_DATABASE_URL", ""),
            device=device,
            quick_seconds=_env_float(env, "SEGSTUDIO_QUICK_SECONDS", 300.0),
            extended_seconds=_env_float(env, "SEGSTUDIO_EXTENDED_SECONDS", 1800.0),
            worker_slots=int(_env_float(env, "SEGSTUDIO_WORKER_SLOTS", 1)),
            embedded_worker=env.get("SEGSTUDIO_EMBEDDED_WORKER", "1").strip() not in ("0", "false", "no"),
            smtp=smtp,
            lab_password_hash=env.get("SEGSTUDIO_PASSWORD_HASH", ""),
            shipped_models=env.get("SEGSTUDIO_SHIPPED_MODELS", "on").strip().lower() not in ("0", "off", "false", "no"),
            accounts=_env_switch(env, "SEGSTUDIO_ACCOUNTS"),
            session_hours=_env_float(env, "SEGSTUDIO_SESSION_HOURS", 12.0, unit="hours"),
            api_token=env.get("SEGSTUDIO_TOKEN", "").strip(),
        )

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)

    def duration_seconds(self, duration: str | float) -> float:
        """Seconds of a named duration (quick | extended) or of a number of seconds."""
        if duration == "quick":
            return self.quick_seconds
        if duration == "extended":
            return self.extended_seconds
        try:
            seconds = float(duration)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"duration {duration!r} is not known; use quick, extended or seconds") from exc
        if seconds <= 0:
            raise InvalidInputError(f"duration must be positive, got {seconds}")
        return seconds

    # Paths inside the data directory -------------------------------------------------
    def project_dir(self, project_id: int) -> Path:
        return self.data_dir / "projects" / str(project_id)

    def images_dir(self, project_id: int) -> Path:
        return self.project_dir(project_id) / "images"

    def thumbs_dir(self, project_id: int) -> Path:
        return self.project_dir(project_id) / "thumbs"

    def training_dir(self, training_id: int) -> Path:
        return self.data_dir / "trainings" / str(training_id)
