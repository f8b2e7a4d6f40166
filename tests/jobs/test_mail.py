from __future__ import annotations

import smtplib

from core.config import Settings
from core.jobs.mail import send_finished_mail


class FakeSMTP:
    sent: list = []

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port = host, port

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def starttls(self) -> None:
        pass

    def login(self, user: str, password: str) -> None:
        self.user = user

    def send_message(self, message) -> None:  # noqa: ANN001
        FakeSMTP.sent.append((self.host, self.port, message))


def test_mail_is_off_by_default_and_sent_when_configured(tmp_path, monkeypatch):
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    assert send_finished_mail(Settings(data_dir=tmp_path), "Training 'x' finished.") is False
    env = {"SEGSTUDIO_DATA": str(tmp_path), "SEGSTUDIO_SMTP_HOST": "mail.lab", "SEGSTUDIO_SMTP_PORT": "2525",
           "SEGSTUDIO_SMTP_TO": "me@lab", "SEGSTUDIO_SMTP_USER": "bot", "SEGSTUDIO_SMTP_PASSWORD": "pw"}
    assert send_finished_mail(Settings.from_env(env), "Training 'x' finished.") is True
    host, port, message = FakeSMTP.sent[-1]
    assert (host, port, message["To"]) == ("mail.lab", 2525, "me@lab")
    assert "Training 'x' finished." in message["Subject"]


def test_mail_failure_does_not_raise(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(smtplib, "SMTP", broken)
    settings = Settings.from_env({"SEGSTUDIO_DATA": str(tmp_path), "SEGSTUDIO_SMTP_HOST": "x", "SEGSTUDIO_SMTP_TO": "y"})
    assert send_finished_mail(settings, "done") is False
