"""One Settings object, read from the environment and ./.env (names as in the contract)."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        "sqlite:///./hotline.db", validation_alias=AliasChoices("HOTLINE_DATABASE_URL")
    )
    public_url: str = Field(
        "http://127.0.0.1:8000", validation_alias=AliasChoices("HOTLINE_PUBLIC_URL")
    )
    roster: str | None = Field(None, validation_alias=AliasChoices("HOTLINE_ROSTER"))
    transport: Literal["twilio", "console"] | None = Field(
        None, validation_alias=AliasChoices("HOTLINE_TRANSPORT")
    )
    twilio_account_sid: str | None = Field(
        None, validation_alias=AliasChoices("TWILIO_ACCOUNT_SID")
    )
    twilio_auth_token: str | None = Field(None, validation_alias=AliasChoices("TWILIO_AUTH_TOKEN"))
    # The SharedKey secret of a Twilio Webhooks signature rule: webhooks that announce
    # HMAC_SHA256 in X-Twilio-Webhooks-Signature-Settings are checked with it.
    twilio_webhook_shared_key: str | None = Field(
        None, validation_alias=AliasChoices("TWILIO_WEBHOOK_SHARED_KEY")
    )
    # Pages and notices to responders go through this Messaging Service (a pool of senders)
    # instead of From; texts to reporters still come from the hotline number.
    twilio_messaging_service_sid: str | None = Field(
        None,
        pattern=r"^MG[0-9a-fA-F]{32}$",
        validation_alias=AliasChoices("TWILIO_MESSAGING_SERVICE_SID"),
    )
    # How long Twilio may keep a page in its queue before giving it up (error 30036) so the
    # page falls back to a call instead of arriving hours late. Twilio accepts 1 to 36000.
    page_validity_seconds: int = Field(
        300, ge=1, le=36000, validation_alias=AliasChoices("HOTLINE_PAGE_VALIDITY_SECONDS")
    )
    twilio_api_base_url: str = Field(
        "https://api.twilio.com", validation_alias=AliasChoices("TWILIO_API_BASE_URL")
    )
    worker: Literal["embedded", "off"] = Field(
        "embedded", validation_alias=AliasChoices("HOTLINE_WORKER")
    )
    log_level: str = Field("INFO", validation_alias=AliasChoices("HOTLINE_LOG_LEVEL"))
    # `json`: one JSON object a line (app.logs), for a log collector; `text` for people.
    log_format: Literal["text", "json"] = Field(
        "text", validation_alias=AliasChoices("HOTLINE_LOG_FORMAT")
    )
    # A separate `hotline worker` touches this file every round; `hotline worker --health`
    # (the container's health check) reads it.
    worker_heartbeat: str = Field(
        "./var/worker.heartbeat", validation_alias=AliasChoices("HOTLINE_WORKER_HEARTBEAT")
    )
    # Where webhooks are kept while the database is unreachable, until they are replayed
    # (app.telephony.spool). A local disk; one directory per web process is simplest.
    spool_dir: str = Field("./var/spool", validation_alias=AliasChoices("HOTLINE_SPOOL_DIR"))
    # How long a worker's claim on an outbound row lasts before another worker may send it
    # again (a killed worker's rows wait this long). Tests shorten it; see app.paging.dispatcher.
    claim_lease_seconds: float = Field(
        60.0,
        gt=0,
        allow_inf_nan=False,
        validation_alias=AliasChoices("HOTLINE_CLAIM_LEASE_SECONDS"),
    )
    # How many sends a worker has in flight at once (app.paging.dispatcher.Sender): one slow
    # answer from Twilio holds one of them, never the others.
    max_in_flight: int = Field(
        32, ge=1, le=256, validation_alias=AliasChoices("HOTLINE_MAX_IN_FLIGHT")
    )
    # The worker runs this much nicer than it was started (os.nice): under a flood of
    # reports the web process, which must answer Twilio within 15 s and only after the report
    # is committed, gets the CPU first. Off by default: at an ordinary rate a niced worker
    # waits behind every other process for the CPU and pages leave later (ADR 0014).
    worker_nice: int = Field(0, ge=0, le=19, validation_alias=AliasChoices("HOTLINE_WORKER_NICE"))

    # Flood control: after this many cases opened by one number within a minute, its next
    # new report joins the newest of them instead (appended and logged, never dropped).
    max_new_cases_per_minute: int = Field(
        3, ge=1, validation_alias=AliasChoices("HOTLINE_MAX_NEW_CASES_PER_MINUTE")
    )

    # Secrets kept outside the database (app.privacy.keys): the key(s) that encrypt what
    # reports say, newest first, comma-separated; the key of the event log's hash chain; or a
    # file holding both as KEY=value lines. `hotline serve` makes them on first start.
    data_key: str | None = Field(None, validation_alias=AliasChoices("HOTLINE_DATA_KEY"))
    audit_key: str | None = Field(None, validation_alias=AliasChoices("HOTLINE_AUDIT_KEY"))
    key_file: str | None = Field(None, validation_alias=AliasChoices("HOTLINE_KEY_FILE"))
    # Contents of cases resolved longer ago than this are erased (app.paging.retention);
    # unset keeps them.
    retention_days: float | None = Field(
        None, gt=0, allow_inf_nan=False, validation_alias=AliasChoices("HOTLINE_RETENTION_DAYS")
    )

    # The console signs a browser out after this long without a page asked for by a person.
    console_idle_minutes: float = Field(
        30.0,
        gt=0,
        allow_inf_nan=False,
        validation_alias=AliasChoices("HOTLINE_CONSOLE_IDLE_MINUTES"),
    )

    @field_validator("twilio_webhook_shared_key", "twilio_messaging_service_sid", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `TWILIO_MESSAGING_SERVICE_SID=` in a .env means "not used", not "invalid".
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _default_transport(self) -> Settings:
        # The contract: twilio when an account SID is configured, else the offline console.
        if self.transport is None:
            self.transport = "twilio" if self.twilio_account_sid else "console"
        self.public_url = self.public_url.rstrip("/")
        self.twilio_api_base_url = self.twilio_api_base_url.rstrip("/")
        return self

    def startup_problem(self) -> str | None:
        """Why this configuration cannot work, naming the variable; None when it can.

        `hotline serve` and `hotline worker` refuse to start on it: a service that looks
        up but pages nobody is worse than one that does not start.
        """
        if self.transport == "twilio":
            missing = [
                name
                for name, value in (
                    ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                    ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
                )
                if not value
            ]
            if missing:
                return (
                    f"{' and '.join(missing)} not set: the twilio transport needs both"
                    " TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
                )
            return None
        if is_loopback(self.public_url):
            return None
        why = ""
        if self.twilio_auth_token and not self.twilio_account_sid:
            why = " (TWILIO_AUTH_TOKEN is set but TWILIO_ACCOUNT_SID is not, so it defaulted to it)"
        return (
            f"HOTLINE_PUBLIC_URL is {self.public_url}, a public address, but the transport is"
            f" console{why}, which sends nothing and would page nobody: set TWILIO_ACCOUNT_SID"
            " and TWILIO_AUTH_TOKEN for Twilio, or leave HOTLINE_PUBLIC_URL at"
            " http://127.0.0.1:8000 for the offline demo"
        )


def is_loopback(url: str) -> bool:
    """Whether the URL points at this machine only (the offline demo's address)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: Docker secrets: a file named after a variable (e.g. /run/secrets/TWILIO_AUTH_TOKEN) sets it
#: when neither the environment nor ./.env does. HOTLINE_SECRETS_DIR names another directory.
SECRETS_DIR = "/run/secrets"


def secrets_dir() -> str | None:
    path = os.environ.get("HOTLINE_SECRETS_DIR") or SECRETS_DIR
    return path if Path(path).is_dir() else None


@lru_cache
def get_settings() -> Settings:
    return Settings(_secrets_dir=secrets_dir())  # type: ignore[call-arg]
