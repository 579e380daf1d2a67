"""The documentation's configuration reference is generated from the schema and lists every key of it.

``docs/_ext/config_reference.py`` renders ``workflow/schemas/config.schema.yaml`` when the docs are built
(``docs/config.rst`` holds only the directive): these tests walk the schema independently and check that every
property appears with its dotted path, its enum values and its default, so the page cannot drift from the schema.
"""
from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture(scope="module")
def ref():
    spec = importlib.util.spec_from_file_location("config_reference", REPO / "docs" / "_ext" / "config_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def schema() -> dict:
    from gaussdsm.schema import load

    return load(SCHEMA)


def schema_keys(schema: dict) -> dict[str, dict]:
    """Every property of the schema by dotted path (maps by name as ``<name>``), found without the renderer."""
    found: dict[str, dict] = {}

    def resolve(node):
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        return node

    def walk(node, prefix):
        node = resolve(node)
        for name, prop in node.get("properties", {}).items():
            found[prefix + name] = resolve(prop)
            walk(prop, prefix + name + ".")
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            walk(extra, prefix + "<name>.")

    walk(schema, "")
    return found


def entry_text(page: str, path: str) -> str:
    """The rendered entry of one key: its line and the indented lines under it."""
    m = re.search(rf"^``{re.escape(path)}``\n(   .*\n(?:(?:   .*)?\n)*)", page, re.M)
    assert m, f"{path} is not in the generated configuration reference"
    return m.group(1)


def test_every_schema_property_is_listed_with_its_path(ref, schema):
    page = ref.render(schema)
    keys = schema_keys(schema)
    assert len(keys) > 60 and "studies.<name>.sampler.scheme" in keys
    for path in keys:
        entry_text(page, path)
    assert {e.path for e in ref.entries(schema)} >= set(keys)


def test_enums_defaults_ranges_and_descriptions_are_shown(ref, schema):
    page = ref.render(schema)
    for path, node in schema_keys(schema).items():
        text = " ".join(entry_text(page, path).split()).replace("\\", "")
        values = node.get("enum") or node.get("items", {}).get("enum") or []
        for v in values:
            assert str(v) in text, (path, v)
        if "default" in node:
            assert f"default ``{ref._value(node['default'])}``" in text, path
        for bound in ("minimum", "maximum", "exclusiveMinimum"):
            if bound in node:
                assert ref._value(node[bound]) in text, (path, bound)
        if node.get("description"):
            first = " ".join(node["description"].split())[:30].replace("`", "")
            assert first in text.replace("`", ""), path


def test_conditional_requirements_and_defaults_are_shown(ref, schema):
    page = ref.render(schema)
    assert "required when studies.<name>.spectrum.kind = texture" in " ".join(
        entry_text(page, "studies.<name>.spectrum.image").split()).replace("\\", "").replace("`", "")
    panels = " ".join(entry_text(page, "studies.<name>.panels").split()).replace("\\", "").replace("`", "")
    assert "default [error_vs_nfe] when studies.<name>.sampler.kind = diffusion" in panels


def test_a_new_schema_key_appears_without_editing_the_docs(ref, schema):
    changed = copy.deepcopy(schema)
    changed["$defs"]["study"]["properties"]["sampler"]["properties"]["new_knob"] = {
        "type": "number", "exclusiveMinimum": 0, "default": 0.5, "description": "A knob added to the schema."}
    page = ref.render(changed)
    text = entry_text(page, "studies.<name>.sampler.new_knob")
    assert "number > 0" in text and "default ``0.5``" in text and "A knob added to the schema." in text
    assert "new_knob" not in ref.render(schema)


def test_the_docs_page_is_the_generated_one():
    page = (REPO / "docs" / "config.rst").read_text()
    assert ".. gaussdsm-config-reference::" in page
    assert "studies.<name>.sampler" not in page.replace("studies.<name>.<key>", "")  # nothing copied by hand
