"""The configuration reference, generated from ``workflow/schemas/config.schema.yaml`` when the docs are built.

The schema is the one source: :func:`entries` walks it (``$ref`` into ``$defs``, ``properties``, maps by name
through ``additionalProperties``, array items, ``anyOf`` alternatives, ``if``/``then``/``else`` defaults and
requirements) and returns one :class:`Entry` per key with its dotted path (``studies.<name>.sampler.scheme``);
:func:`render` writes them as reStructuredText; the directive ``.. gaussdsm-config-reference::`` inserts that text
into a page.  Sphinx is imported only by :func:`setup`, so the test suite can check the output without it.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

#: Names written for the keys of a map (``additionalProperties`` with ``propertyNames``), by the map's key.
MAP_NAMES = {"studies": "<name>", "comparisons": "<name>"}


@dataclass
class Entry:
    """One configuration key."""

    path: str
    type: str = ""
    default: object = None
    has_default: bool = False
    description: str = ""
    required: bool = False
    conditions: list[str] = field(default_factory=list)


def load(path: Path = SCHEMA) -> dict:
    """The schema as the workflow reads it: ``x-registry`` keys with their registry's names (:func:`gaussdsm.schema.load`)."""
    from gaussdsm.schema import load as load_schema

    return load_schema(path)


def _resolve(node: dict, root: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref are supported, not {ref!r}")
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _value(v) -> str:
    """A schema value as YAML-like text (``inf`` for ``.inf``)."""
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return json.dumps(v) if v else "{}"
    return str(v)


def _bounds(node: dict) -> str:
    parts = []
    for key, op in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in node:
            parts.append(f"{op} {_value(node[key])}")
    return ", ".join(parts)


def describe_type(node: dict, root: dict) -> str:
    """The type of a schema node in words: ``number > 0``, ``one of a, b``, ``list of (integer >= 1 or inf)``."""
    node = _resolve(node, root)
    if "enum" in node:
        values = [_value(v) for v in node["enum"]]
        if set(values) == {"inf"}:
            return "`inf`"
        return "one of " + ", ".join(f"`{v}`" for v in dict.fromkeys(values))
    if "const" in node:
        return f"= {_value(node['const'])}"
    if "anyOf" in node or "oneOf" in node:
        alts = [describe_type(a, root) for a in node.get("anyOf", node.get("oneOf"))]
        return " or ".join(dict.fromkeys(alts))
    kind = node.get("type", "")
    if kind == "array":
        words = "list"
        if "items" in node:
            inner = describe_type(node["items"], root)
            words += f" of ({inner})" if " " in inner else f" of {inner}"
        extra = []
        if node.get("minItems"):
            extra.append(f"at least {node['minItems']} item{'s' if node['minItems'] > 1 else ''}")
        if node.get("uniqueItems"):
            extra.append("no repeats")
        return words + (f" ({', '.join(extra)})" if extra else "")
    if kind == "object":
        if "additionalProperties" in node and isinstance(node["additionalProperties"], dict) \
                and "properties" not in node:
            return "mapping of names (each entry's keys below)"
        return "mapping (its keys below)"
    words = kind if isinstance(kind, str) else " or ".join(kind)
    b = _bounds(node)
    return f"{words} {b}".strip()


def _conditional(node: dict, prefix: str = "") -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """From ``if``/``then``/``else`` (and ``allOf`` of them): per property, the conditional requirements and
    defaults, as sentences."""
    required: dict[str, list[str]] = {}
    defaults: dict[str, list[str]] = {}
    branches = [node] + list(node.get("allOf", []))
    for b in branches:
        if "if" not in b:
            continue
        cond = _condition_text(b["if"], prefix)
        for branch, text in (("then", cond), ("else", f"not ({cond})" if cond else "")):
            sub = b.get(branch)
            if not sub:
                continue
            for name in sub.get("required", []):
                required.setdefault(name, []).append(f"required when {text}")
            for name, prop in sub.get("properties", {}).items():
                if "default" in prop:
                    defaults.setdefault(name, []).append(f"default `{_value(prop['default'])}` when {text}")
                for inner in prop.get("required", []):
                    required.setdefault(f"{name}.{inner}", []).append(f"required when {text}")
    return required, defaults


def _condition_text(cond: dict, prefix: str = "") -> str:
    out = []
    for name, prop in cond.get("properties", {}).items():
        if "const" in prop:
            out.append(f"`{prefix}{name}` = `{_value(prop['const'])}`")
        elif "enum" in prop:
            out.append(f"`{prefix}{name}` in `{_value(prop['enum'])}`")
        elif "properties" in prop:
            out.append(_condition_text(prop, f"{prefix}{name}."))
    return " and ".join(out)


def entries(schema: dict | None = None) -> list[Entry]:
    """Every key of the schema, depth first in the schema's order, with its dotted path."""
    root = load() if schema is None else schema
    out: list[Entry] = []

    def walk(node: dict, prefix: str, extra_required: dict[str, list[str]], extra_defaults: dict[str, list[str]]):
        node = _resolve(node, root)
        req_here, def_here = _conditional(node, prefix)
        required = set(node.get("required", []))
        for name, prop in node.get("properties", {}).items():
            prop = _resolve(prop, root)
            path = f"{prefix}{name}"
            e = Entry(path, describe_type(prop, root), prop.get("default"), "default" in prop,
                      " ".join(str(prop.get("description", "")).split()), name in required)
            e.conditions += extra_required.get(name, []) + req_here.get(name, [])
            e.conditions += extra_defaults.get(name, []) + def_here.get(name, [])
            out.append(e)
            nested_req = {k.split(".", 1)[1]: v for k, v in req_here.items() if k.startswith(name + ".")}
            walk_children(prop, path, nested_req)

    def walk_children(prop: dict, path: str, nested_req: dict[str, list[str]]):
        if "properties" in prop or "if" in prop or "allOf" in prop:
            walk(prop, path + ".", nested_req, {})
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict):
            name = MAP_NAMES.get(path.rsplit(".", 1)[-1], "<key>")
            child = _resolve(extra, root)
            e = Entry(f"{path}.{name}", describe_type(child, root), description=" ".join(
                str(child.get("description", "")).split()))
            if child.get("properties"):
                e.type = "mapping (its keys below)"
            out.append(e)
            walk_children(child, e.path, {})

    walk(root, "", {}, {})
    return out


_SPECIAL = re.compile(r"([\\*|_])")


def _text(s: str) -> str:
    """Schema prose as reST: ```x``` becomes a literal, markup characters elsewhere are escaped."""
    parts = s.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: all plain text
        parts = [s]
    return "".join(f"``{p}``" if k % 2 else _SPECIAL.sub(r"\\\1", p) for k, p in enumerate(parts))


def render(schema: dict | None = None) -> str:
    """The reference as reStructuredText: one section per top-level key and per part of a study, one definition
    per key (dotted path, type and range, default, whether required, description)."""
    root = load() if schema is None else schema
    lines: list[str] = []
    if root.get("description"):
        lines += [_text(" ".join(root["description"].split())), ""]
    groups: dict[str, list[Entry]] = {}
    for e in entries(root):
        parts = e.path.split(".")
        group = ".".join(parts[:3]) if parts[0] == "studies" and len(parts) > 2 else parts[0]
        groups.setdefault(group, []).append(e)
    for group, items in groups.items():
        title = group
        lines += [title, "-" * len(title), ""]
        for e in items:
            lines.append(f"``{e.path}``")
            facts = [_text(e.type)] if e.type else []
            if e.has_default:
                facts.append(f"default ``{_value(e.default)}``")
            if e.required:
                facts.append("**required**")
            facts += [_text(c) for c in e.conditions]
            body = ("; ".join(facts) + ".") if facts else ""
            lines.append(f"   {body}" if body else "   \\ ")
            if e.description:
                lines += ["", f"   {_text(e.description)}"]
            lines.append("")
    return "\n".join(lines)


def setup(app):
    from docutils.parsers.rst import Directive
    from docutils.statemachine import StringList
    from sphinx.util.nodes import nested_parse_with_titles
    from docutils import nodes

    class ConfigReference(Directive):
        has_content = False

        def run(self):
            env = self.state.document.settings.env
            env.note_dependency(str(SCHEMA))
            node = nodes.container()
            nested_parse_with_titles(self.state, StringList(render().splitlines(), source=str(SCHEMA)), node)
            return node.children

    app.add_directive("gaussdsm-config-reference", ConfigReference)
    return {"parallel_read_safe": True, "version": "1"}
