"""Email when a job ends, through SMTP settings from the environment; off unless SEGSTUDIO_SMTP_HOST is set."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from core.config import Settings

log = logging.getLogger("segstudio.mail")


def send_finished_mail(settings: Settings, text: str, *, to: str | None = None) -> bool:
    """Send ``text`` to ``to`` (the lab account that started the job, when it has an address), else to
    SEGSTUDIO_SMTP_TO; False when mail is off or sending failed (logged)."""
    smtp = settings.smtp
    recipient = to or smtp.get("to")
    if not smtp.get("host") or not recipient:
        return False
    message = EmailMessage()
    message["Subject"] = f"segstudio: {text[:120]}"
    message["From"] = smtp.get("sender", smtp.get("user", "segstudio@localhost"))
    message["To"] = recipient
    message.set_content(f"{text}\n\nOpen segstudio's Trainings page for the details and the report.")
    try:
        with smtplib.SMTP(smtp["host"], int(smtp.get("port", "587")), timeout=20) as client:
            if smtp.get("user"):
                client.starttls()
                client.login(smtp["user"], smtp.get("password", ""))
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("could not send the notification email: %s", exc)
        return False
    return True
