"""Sending one message: SMTP when SMTP_URL is set, otherwise a log line."""
import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlparse

from flask import current_app

log = logging.getLogger("evently.mail")


def one_line(text):
    """A header value on one line: rows stored before titles were checked may hold line
    breaks, which the email package refuses as header injection (the mail would never go)."""
    return " ".join(text.split())


def send(*, to, subject, body, message_id, attachments=()):
    """Raises on failure so the caller can retry. The Message-ID is stable per
    notification, so a rare duplicate after a crash is recognisable downstream.
    `attachments`: objects with filename, maintype, subtype and data (bytes)."""
    url = current_app.config.get("SMTP_URL")
    if not url:
        log.info("mail to=%s subject=%s message_id=%s attachments=%s", to, subject, message_id,
                 ",".join(attachment.filename for attachment in attachments) or "-")
        return
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = one_line(subject)
    message["Message-ID"] = f"<{message_id}@evently>"
    message.set_content(body)
    for attachment in attachments:
        message.add_attachment(attachment.data, maintype=attachment.maintype, subtype=attachment.subtype,
                               filename=attachment.filename)
    parsed = urlparse(url)
    smtp_class = smtplib.SMTP_SSL if parsed.scheme == "smtps" else smtplib.SMTP
    with smtp_class(parsed.hostname, parsed.port or (465 if parsed.scheme == "smtps" else 25), timeout=10) as smtp:
        if parsed.scheme == "smtp+starttls":
            smtp.starttls()
        if parsed.username:
            smtp.login(unquote(parsed.username), unquote(parsed.password or ""))
        smtp.send_message(message)
