"""The catalogue of notification templates: versioned YAML data, checked once at load, rendered per channel.

Each template is one ``data/<key>.yaml`` file (see ``spec.py`` for what is checked). At load every SMS
body is also rendered with worst-case values (each placeholder filled to its declared length with ``ệ``,
a cut value ending in ``…``) and must fit ``sms_max_parts`` under the SMS policy. At render the values
are formatted (``formatting.py``); in SMS and Zalo a free-text value is cut to its declared length, in
email it is shown whole (email has no length budget, and a citizen needs the whole list of items to
supplement); HTML gets escaped values, plain text and subjects do not (a subject is kept on one line).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from services.notify.domain import Channel
from services.notify.sms_text import SmsEncoding, SmsText, prepare_sms
from services.notify.templates.formatting import (
    TemplateDataError,
    fill,
    fit,
    format_value,
    is_identifier,
    one_line,
    placeholders_in,
)
from services.notify.templates.spec import TemplateError, TemplateSpec, read_spec

__all__ = ["Rendered", "TemplateCatalog", "TemplateDataError", "TemplateError"]

DATA_PACKAGE = "services.notify.templates.data"
WORST_CHARACTER = "ệ"  # one UTF-16 unit under UNICODE; "e", one septet, once accents are removed


@dataclass(frozen=True)
class Rendered:
    """A message ready to store and send; ``body`` is exactly the text sent (and the record)."""

    template: str
    version: int
    channel: Channel
    audience: str
    urgent: bool
    subject: str | None
    body: str
    html: str | None
    parts: int | None  # SMS only
    encoding: SmsEncoding | None  # SMS only
    zalo_template_id: str | None  # Zalo only
    zalo_params: dict[str, str] = field(default_factory=dict)  # Zalo only


class TemplateCatalog:
    def __init__(
        self,
        specs: Mapping[str, TemplateSpec],
        *,
        sms_policy: SmsEncoding = SmsEncoding.UNICODE,
        sms_max_parts: int = 4,
    ) -> None:
        if sms_max_parts < 1:
            raise ValueError("sms_max_parts must be at least 1")
        self._specs = dict(specs)
        self.sms_policy = SmsEncoding(sms_policy)
        self.sms_max_parts = sms_max_parts
        for spec in self._specs.values():
            self._check_sms_length(spec)

    @classmethod
    def load(
        cls, directory: Path | None = None, *, sms_policy: SmsEncoding = SmsEncoding.UNICODE, sms_max_parts: int = 4
    ) -> TemplateCatalog:
        """Every ``*.yaml`` template in ``directory`` (None: the packaged data), checked."""
        root: Traversable = files(DATA_PACKAGE) if directory is None else directory
        try:
            entries = sorted((e for e in root.iterdir() if e.name.endswith(".yaml") and e.is_file()), key=str)
        except OSError as e:
            raise TemplateError(f"{root}: cannot list templates: {e}") from None
        if not entries:
            raise TemplateError(f"{root}: no template files (*.yaml)")
        specs: dict[str, TemplateSpec] = {}
        for entry in entries:
            spec = read_spec(entry)
            specs[spec.key] = spec
        return cls(specs, sms_policy=sms_policy, sms_max_parts=sms_max_parts)

    def _check_sms_length(self, spec: TemplateSpec) -> None:
        sms = spec.channels.get(Channel.SMS)
        if sms is None:
            return
        worst = {
            name: WORST_CHARACTER * length
            if is_identifier(name)
            else fit(name, WORST_CHARACTER * (length + 1), length)  # cut: ends with "…"
            for name in placeholders_in(sms.body)
            for length in (spec.placeholders[name],)
        }
        sent = prepare_sms(fill(sms.body, worst), self.sms_policy)
        if sent.parts > self.sms_max_parts:
            raise TemplateError(
                f"{spec.source}: SMS body too long: {sent.parts} parts > {self.sms_max_parts} "
                f"({sent.units} {self.sms_policy.value} units with every placeholder at its maximum length)"
            )

    def _spec(self, key: str) -> TemplateSpec:
        try:
            return self._specs[key]
        except KeyError:
            raise KeyError(f"no template {key!r}") from None

    def keys(self) -> list[str]:
        return sorted(self._specs)

    def channels(self, key: str) -> set[Channel]:
        return set(self._spec(key).channels)

    def audience(self, key: str) -> str:
        return self._spec(key).audience

    def version(self, key: str) -> int:
        return self._spec(key).version

    def urgent(self, key: str) -> bool:
        return self._spec(key).urgent

    def placeholders(self, key: str) -> dict[str, int]:
        """The values ``render`` needs for ``key`` (all of them, no others), with their maximum lengths."""
        return dict(self._spec(key).placeholders)

    def render(self, key: str, channel: Channel, data: Mapping[str, object]) -> Rendered:
        """``key`` on ``channel`` with ``data``; TemplateDataError for missing, undeclared or unusable values,
        KeyError for an unknown template or a channel the template does not have."""
        spec = self._spec(key)
        channel = Channel(channel)
        texts = spec.channels.get(channel)
        if texts is None:
            raise KeyError(f"template {key!r} has no {channel.value} channel")
        try:
            whole = _values(spec, data)
        except TemplateDataError as e:
            raise TemplateDataError(f"{key} ({channel.value}): {e}") from None
        cut = {name: fit(name, value, spec.placeholders[name]) for name, value in whole.items()}
        subject = html_text = zalo_id = None
        parts: int | None = None
        encoding: SmsEncoding | None = None
        params: dict[str, str] = {}
        if channel is Channel.SMS:
            sent: SmsText = prepare_sms(fill(texts.body, cut), self.sms_policy)
            body, parts, encoding = sent.text, sent.parts, sent.encoding
        elif channel is Channel.ZALO:
            body = fill(texts.body, cut)
            zalo_id = texts.template_id
            params = {name: fill(value, cut) for name, value in texts.params.items()}
        else:
            body = fill(texts.body, whole)
            subject = fill(texts.subject or "", {name: one_line(value) for name, value in whole.items()})
            html_text = fill(texts.html or "", {name: html.escape(value) for name, value in whole.items()})
        return Rendered(
            template=spec.key,
            version=spec.version,
            channel=channel,
            audience=spec.audience,
            urgent=spec.urgent,
            subject=subject,
            body=body,
            html=html_text,
            parts=parts,
            encoding=encoding,
            zalo_template_id=zalo_id,
            zalo_params=params,
        )


def _values(spec: TemplateSpec, data: Mapping[str, object]) -> dict[str, str]:
    missing = sorted(spec.placeholders.keys() - data.keys())
    if missing:
        raise TemplateDataError(f"missing value(s): {', '.join(missing)}")
    undeclared = sorted(data.keys() - spec.placeholders.keys())
    if undeclared:
        raise TemplateDataError(f"undeclared value(s): {', '.join(undeclared)}")
    values = {name: format_value(name, data[name]) for name in spec.placeholders}
    for name, value in values.items():
        if is_identifier(name):
            fit(name, value, spec.placeholders[name])  # an identifier too long is refused on every channel
    return values
