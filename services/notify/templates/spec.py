"""One template file read and checked: its fields, its placeholders, and what a citizen must always get."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable

import yaml

from services.notify.domain import Channel
from services.notify.templates.formatting import placeholders_in

AUDIENCES = frozenset({"citizen", "unit", "desk"})
CITIZEN_MUST_SHOW = ("dossier_code", "tracking_link")
_TOP_FIELDS = {"key", "version", "audience", "urgent", "description", "placeholders", "channels"}
_CHANNEL_FIELDS: dict[Channel, tuple[set[str], set[str]]] = {  # (required, optional)
    Channel.SMS: ({"body"}, set()),
    Channel.ZALO: ({"template_id", "params", "body"}, set()),
    Channel.EMAIL: ({"subject", "body", "html"}, set()),
}


class TemplateError(ValueError):
    """A template file that cannot be used; the message names the file and the fault."""


@dataclass(frozen=True)
class ChannelSpec:
    body: str
    subject: str | None = None
    html: str | None = None
    template_id: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)

    def texts(self) -> dict[str, str]:
        """Every text with placeholders, by where it is (for checks and messages)."""
        texts = {"body": self.body}
        if self.subject is not None:
            texts["subject"] = self.subject
        if self.html is not None:
            texts["html"] = self.html
        texts.update({f"params.{name}": value for name, value in self.params.items()})
        return texts


@dataclass(frozen=True)
class TemplateSpec:
    key: str
    version: int
    audience: str
    urgent: bool
    description: str
    placeholders: Mapping[str, int]
    channels: Mapping[Channel, ChannelSpec]
    source: str


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[object, object]:
    mapping = loader.construct_mapping(node, deep=True)
    seen: set[object] = set()
    for key_node, _value in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} given twice", key_node.start_mark)
        seen.add(key)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_spec(entry: Traversable) -> TemplateSpec:
    """The template in ``entry`` (a ``<key>.yaml`` file), checked; TemplateError naming it otherwise."""
    source = str(entry)
    try:
        data = yaml.load(entry.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # a SafeLoader
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise TemplateError(f"{source}: not readable YAML: {e}") from None
    try:
        return _parse(data, entry.name.removesuffix(".yaml"), source)
    except ValueError as e:
        raise TemplateError(f"{source}: {e}") from None


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} must be non-empty text")
    if unicodedata.normalize("NFC", value) != value:
        raise ValueError(f"{where} is not NFC (compose the Vietnamese diacritics)")
    return value


def _mapping(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{where} must be a mapping of names")
    return value


def _known_fields(data: Mapping[str, object], required: set[str], optional: set[str], where: str) -> None:
    unknown = sorted(data.keys() - required - optional)
    if unknown:
        raise ValueError(f"unknown field(s) in {where}: {', '.join(unknown)}")
    missing = sorted(required - data.keys())
    if missing:
        raise ValueError(f"{where} needs {', '.join(missing)}")


def _channel(name: str, raw: object) -> tuple[Channel, ChannelSpec]:
    try:
        channel = Channel(name)
    except ValueError:
        raise ValueError(f"unknown channel {name!r} (one of {', '.join(c.value for c in Channel)})") from None
    data = _mapping(raw, f"channels.{name}")
    required, optional = _CHANNEL_FIELDS[channel]
    _known_fields(data, required, optional, f"channels.{name}")
    texts = {f: _text(data[f], f"channels.{name}.{f}") for f in ("body", "subject", "html", "template_id") if f in data}
    params: dict[str, str] = {}
    if "params" in data:
        raw_params = _mapping(data["params"], f"channels.{name}.params")
        if not raw_params:
            raise ValueError(f"channels.{name}.params is empty")
        params = {p: _text(v, f"channels.{name}.params.{p}") for p, v in raw_params.items()}
    return channel, ChannelSpec(
        body=texts["body"],
        subject=texts.get("subject"),
        html=texts.get("html"),
        template_id=texts.get("template_id"),
        params=params,
    )


def _placeholders(raw: object) -> dict[str, int]:
    declared: dict[str, int] = {}
    for name, length in _mapping(raw, "placeholders").items():
        if not name.isidentifier():
            raise ValueError(f"placeholder name {name!r} is not a plain name")
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"placeholders.{name} must be a maximum length of at least 1 character")
        declared[name] = length
    return declared


def _parse(raw: object, file_key: str, source: str) -> TemplateSpec:
    data = _mapping(raw, "the file")
    _known_fields(data, _TOP_FIELDS, set(), "the template")
    key = _text(data["key"], "key")
    if key != file_key:
        raise ValueError(f"key {key!r} differs from the file name {file_key!r}")
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a whole number ≥ 1, not {version!r}")
    audience = data["audience"]
    if audience not in AUDIENCES:
        raise ValueError(f"audience {audience!r} is not one of {', '.join(sorted(AUDIENCES))}")
    urgent = data["urgent"]
    if not isinstance(urgent, bool):
        raise ValueError("urgent must be true or false")
    declared = _placeholders(data["placeholders"])
    raw_channels = _mapping(data["channels"], "channels")
    if not raw_channels:
        raise ValueError("no channels")
    channels = dict(_channel(name, value) for name, value in raw_channels.items())
    used: set[str] = set()
    for channel, spec in channels.items():
        for where, text in spec.texts().items():
            try:
                names = placeholders_in(text)
            except ValueError as e:
                raise ValueError(f"channels.{channel.value}.{where}: {e}") from None
            undeclared = sorted(set(names) - declared.keys())
            if undeclared:
                raise ValueError(f"channels.{channel.value}.{where} uses undeclared {', '.join(undeclared)}")
            used.update(names)
            if audience == "citizen" and where in {"body", "html"} and channel is not Channel.ZALO:
                _must_show(set(names), f"channels.{channel.value}.{where}")
        if audience == "citizen" and channel is Channel.ZALO:
            shown = {n for text in (spec.body, *spec.params.values()) for n in placeholders_in(text)}
            _must_show(shown, "channels.zalo (body or params)")
    unused = sorted(declared.keys() - used)
    if unused:
        raise ValueError(f"placeholder(s) declared but used in no channel: {', '.join(unused)}")
    return TemplateSpec(
        key, version, str(audience), urgent, _text(data["description"], "description"), declared, channels, source
    )


def _must_show(names: set[str], where: str) -> None:
    missing = [n for n in CITIZEN_MUST_SHOW if n not in names]
    if missing:
        raise ValueError(f"{where} of a citizen template must show {', '.join('{' + n + '}' for n in missing)}")
