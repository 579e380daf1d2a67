"""config/README.md (the configuration page of the Snakemake workflow catalog) stays in step with the schema and
with the files in config/: every key it must describe is named, every overlay is listed, its example is valid."""
from __future__ import annotations

import copy
import re

import pytest
import yaml

from gaussdsm.schema import validate


@pytest.fixture(scope="module")
def page(repo):
    return (repo / "config" / "README.md").read_text()


@pytest.fixture(scope="module")
def schema(repo):
    return yaml.safe_load((repo / "workflow" / "schemas" / "config.schema.yaml").read_text())


def named(page: str) -> set[str]:
    """Everything written as inline code on the page (``key``, ``p1.yaml``, ...)."""
    return set(re.findall(r"`([^`\n]+)`", page))


def test_every_top_level_and_study_key_is_described(page, schema):
    study = schema["$defs"]["study"]["properties"]
    missing = (set(schema["properties"]) | set(study)) - named(page)
    assert not missing, f"config/README.md does not describe {sorted(missing)}"


def test_the_choices_it_names_are_the_schemas(page, schema):
    study = schema["$defs"]["study"]["properties"]
    for key, enum in [("spectrum.kind", study["spectrum"]["properties"]["kind"]["enum"]),
                      ("sampler.kind", study["sampler"]["properties"]["kind"]["enum"]),
                      ("fit.method", study["fit"]["properties"]["method"]["enum"]),
                      ("fit.model", study["fit"]["properties"]["model"]["enum"])]:
        assert set(enum) <= named(page), (key, sorted(set(enum) - named(page)))


def test_every_config_file_is_listed(page, repo):
    files = {p.name for p in (repo / "config").glob("*.yaml")}
    assert files and not files - named(page), sorted(files - named(page))


def test_the_example_study_is_valid_and_is_the_default_configs(page, repo, schema):
    blocks = re.findall(r"^```yaml\n(.*?)^```", page, re.S | re.M)
    assert len(blocks) == 1
    example = yaml.safe_load(blocks[0])
    validate(copy.deepcopy(example), schema)
    default = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    for name, study in example["studies"].items():
        assert default["studies"][name] == study, name
