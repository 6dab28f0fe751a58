"""YAML documents that remember the line of every node, so an error can point into the file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from shared.catalog.errors import CatalogError, Problem

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    path: Path
    data: object
    lines: Mapping[Loc, int]

    def line(self, loc: Sequence[str | int]) -> int:
        """Line of the deepest node along ``loc``.

        Parts that are not nodes are skipped: pydantic puts union member names and the like in its
        error locations.
        """
        current: Loc = ()
        for part in loc:
            if (*current, part) in self.lines:
                current = (*current, part)
        return self.lines[current]

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        return Problem(self.path, self.line(loc), message)


def load_yaml(path: Path) -> YamlDocument:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise CatalogError([Problem(path, line, "not UTF-8 text")]) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(path, None, {(): 1})
        lines: dict[Loc, int] = {(): node.start_mark.line + 1}
        _index(path, node, (), lines, set())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = mark.line + 1 if mark else None
        raise CatalogError([Problem(path, at, f"YAML: {e.problem or e.context}")]) from None
    except yaml.YAMLError as e:
        raise CatalogError([Problem(path, None, f"YAML: {e}")]) from None
    finally:
        loader.dispose()
    return YamlDocument(path, data, lines)


def _index(path: Path, node: yaml.Node, loc: Loc, lines: dict[Loc, int], open_nodes: set[int]) -> None:
    if id(node) in open_nodes:  # a recursive alias
        return
    open_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if (*loc, key) in lines and key != "<<":
                first = lines[(*loc, key)]
                raise CatalogError([Problem(path, line, f"key {key!r} repeated (first on line {first})")])
            lines[(*loc, key)] = line
            _index(path, value_node, (*loc, key), lines, open_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _index(path, item, (*loc, i), lines, open_nodes)
    open_nodes.discard(id(node))
