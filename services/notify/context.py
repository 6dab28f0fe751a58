"""What notify's handlers, workers and API share at run time: templates, the catalogue's names, unit
contacts, which channels are switched on, quiet hours."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml
from fastapi import Request
from pydantic import BaseModel, ConfigDict

from services.notify.domain import Channel, QuietHours
from services.notify.settings import NotifySettings
from services.notify.sms_text import SmsEncoding
from services.notify.templates import TemplateCatalog
from shared.catalog import Catalog, default_catalog_dir, load_catalog
from shared.doorbell import Doorbell

STATE_KEY = "notify"
SAMPLE_UNIT_CONTACTS = Path(__file__).parent / "data" / "unit_contacts.yaml"


class UnitContact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = None
    phone: str | None = None


def load_unit_contacts(path: Path) -> dict[str, UnitContact]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of unit code to {{email, phone}}")
    return {str(code): UnitContact.model_validate(value) for code, value in raw.items()}


@dataclass(frozen=True)
class Notify:
    templates: TemplateCatalog
    catalog: Catalog
    unit_contacts: dict[str, UnitContact]
    tracking_base_url: str
    quiet: QuietHours
    back_dated_after: timedelta
    channels: frozenset[Channel]
    """The channels with a provider configured."""
    postal: bool
    sms_policy: SmsEncoding = SmsEncoding.UNICODE
    due: Doorbell = field(default_factory=Doorbell, compare=False)
    """Rung when a notification due now is committed: the sender sends it without waiting for its poll."""
    postal_due: Doorbell = field(default_factory=Doorbell, compare=False)
    """Rung when a postal order is requested: the postal worker places it without waiting for its poll."""

    @classmethod
    def load(cls, s: NotifySettings) -> Notify:
        policy = SmsEncoding(s.sms_policy)
        channels = {Channel.EMAIL, Channel.SMS}
        if s.zalo_api_url:
            channels.add(Channel.ZALO)
        contacts_file = Path(s.unit_contacts_file) if s.unit_contacts_file else SAMPLE_UNIT_CONTACTS
        return cls(
            templates=TemplateCatalog.load(sms_policy=policy, sms_max_parts=s.sms_max_parts),
            catalog=load_catalog(Path(s.catalog_dir) if s.catalog_dir else default_catalog_dir()),
            unit_contacts=load_unit_contacts(contacts_file),
            tracking_base_url=s.tracking_base_url,
            quiet=QuietHours(s.quiet_hours_start, s.quiet_hours_end),
            back_dated_after=timedelta(hours=s.back_dated_after_h),
            channels=frozenset(channels),
            postal=bool(s.postal_api_url),
            sms_policy=policy,
        )

    def tracking_link(self, code: str) -> str:
        return f"{self.tracking_base_url.rstrip('/')}/{code}"

    def unit_name(self, code: str | None) -> str:
        if not code:
            return ""
        try:
            return self.catalog.unit(code).name
        except KeyError:
            return code

    def procedure_name(self, code: str) -> str:
        try:
            return self.catalog.procedure(code).name
        except KeyError:
            return code

    def unit_contact(self, code: str) -> UnitContact | None:
        own = self.unit_contacts.get(code)
        if own is not None:
            return own
        fallback = self.unit_contacts.get("*")
        if fallback is None:
            return None
        return UnitContact(
            email=fallback.email.replace("{unit_code}", code.lower()) if fallback.email else None,
            phone=fallback.phone,
        )


def notify_of(request: Request) -> Notify:
    notify: Notify = request.app.state.runtime.state[STATE_KEY]
    return notify
