"""Module boundaries of the package: no import cycle, no module importing another's private names."""
from __future__ import annotations

import ast
from pathlib import Path

import gaussdsm

ROOT = Path(gaussdsm.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path):
    """(imported module, imported names) for every import statement of the file, at any depth."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            yield mod, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


def _graph():
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for mod, names in _imports(path):
            if mod in modules:
                deps.add(mod)
            for n in names:  # "from . import theory" imports a module
                if f"{mod}.{n}" in modules:
                    deps.add(f"{mod}.{n}")
        graph[name] = deps - {name}
    return modules, graph


def test_no_import_cycle():
    _, graph = _graph()
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for dep in sorted(graph[node]):
            if dep.startswith(node + "."):  # a package importing its own submodules is not a cycle
                continue
            if state.get(dep) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack + [node, dep]))
            if dep not in state:
                visit(dep, stack + [node])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_no_module_imports_private_names_of_another():
    modules, _ = _graph()
    bad = []
    for name, path in modules.items():
        for mod, names in _imports(path):
            if mod in modules and mod != name:
                bad += [f"{name}: from {mod} import {n}" for n in names if n.startswith("_") and n != "__version__"
                        and f"{mod}.{n}" not in modules]
    assert not bad, bad


def test_schema_enums_are_the_registries(repo):
    """Every name the config may use is one the package dispatches on, and the other way round: sampler kinds,
    diffusion processes, schemes, grids and inits, spectrum kinds, metrics.  The registries that grow by one module
    and one entry (schemes, processes, grids, metrics) are not copied into the schema file: it names them
    (``x-registry``) and :func:`gaussdsm.schema.load` fills them in."""
    import yaml

    from gaussdsm import metrics, samplers, spectra
    from gaussdsm.samplers import diffusion
    from gaussdsm.schema import load

    path = repo / "workflow" / "schemas" / "config.schema.yaml"
    raw = yaml.safe_load(path.read_text())["$defs"]["study"]["properties"]
    assert raw["sampler"]["properties"]["scheme"]["items"] == {"x-registry": "schemes"}
    assert raw["sampler"]["properties"]["process"]["x-registry"] == "processes"
    assert raw["sampler"]["properties"]["grid"]["anyOf"][0] == {"x-registry": "grids"}
    assert raw["metrics"]["items"] == {"x-registry": "metrics"}
    study = load(path)["$defs"]["study"]["properties"]
    sp = study["sampler"]["properties"]
    assert sp["kind"]["enum"] == list(samplers.KINDS)
    assert sp["process"]["enum"] == list(diffusion.PROCESSES)
    assert sp["scheme"]["items"]["enum"] == list(diffusion.SCHEMES)
    assert sp["grid"]["anyOf"][0]["enum"] == list(diffusion.GRIDS)
    assert sp["init"]["items"]["enum"] == list(diffusion.START_LAWS)
    assert set(study["spectrum"]["properties"]["kind"]["enum"]) == set(spectra.SOURCES)
    assert study["metrics"]["items"]["enum"] == list(metrics.METRICS)
    assert study["metrics"]["default"] == [metrics.DEFAULT]


def test_a_registry_name_is_checked_by_the_schema(repo):
    """A config naming a scheme that is not in the registry gets the schema's one-line error listing the registry."""
    import pytest

    from gaussdsm.samplers import diffusion
    from gaussdsm.schema import validate
    from gaussdsm.study import ConfigError

    cfg = {"studies": {"s": {"spectrum": {"kind": "power_law", "d": 3}, "grid": {"n_samples": [10]},
                             "sampler": {"kind": "diffusion", "scheme": ["euler", "eulr"]}}}}
    with pytest.raises(ConfigError) as err:
        validate(cfg, repo / "workflow" / "schemas" / "config.schema.yaml")
    line = next(ln for ln in str(err.value).splitlines() if "scheme" in ln)
    assert "studies.s.sampler.scheme[1] = 'eulr'" in line and ", ".join(diffusion.SCHEMES) in line, line


def test_unknown_names_raise_instead_of_falling_back():
    """No silent default branch: an unknown sampler kind, process or scheme is an error naming the known ones."""
    import pytest

    from gaussdsm import samplers
    from gaussdsm.samplers import diffusion

    for bad in (lambda: samplers.make("hmc", gamma=0.1), lambda: samplers._langevin("hmc", gamma=0.1),
                lambda: diffusion.make_process("cosine"), lambda: diffusion.scheme_record("midpoint"),
                lambda: samplers.make("diffusion", scheme="midpoint")):
        with pytest.raises(ValueError, match="must be one of"):
            bad()
    assert all(isinstance(diffusion.make_process(n), c) for n, c in diffusion.PROCESSES.items())
    assert set(diffusion.EVALS) | {"annealed_langevin"} == set(diffusion.SCHEMES)


def _private_module_owner(mod: str) -> str | None:
    """The package a private module belongs to (``gaussdsm.samplers._base`` -> ``gaussdsm.samplers``), or None."""
    parts = mod.split(".")
    for i, p in enumerate(parts):
        if p.startswith("_") and not p.startswith("__"):
            return ".".join(parts[:i])
    return None


def test_private_modules_are_imported_only_inside_their_package():
    """A private module (a name with a leading underscore, anywhere in its path) is imported only by modules of the
    package it belongs to: ``gaussdsm._jet`` by all (the lowest layer), ``gaussdsm.samplers._base`` by the
    samplers, never ``from ..samplers import _jet`` from the theory.  Module names count (``from . import _x``)."""
    modules, _ = _graph()
    bad = []
    for name, path in modules.items():
        for mod, names in _imports(path):
            targets = [mod] + [f"{mod}.{n}" for n in names if f"{mod}.{n}" in modules]
            for t in targets:
                owner = _private_module_owner(t)
                if owner is not None and t in modules and not (name == owner or name.startswith(owner + ".")):
                    bad.append(f"{name} imports {t}")
    assert not bad, bad


LAYERS = {
    "gaussdsm._jet": (), "gaussdsm._checks": (),
    "gaussdsm.dsm": ("gaussdsm.samplers", "gaussdsm.theory", "gaussdsm.montecarlo", "gaussdsm.stages"),
    "gaussdsm.samplers": ("gaussdsm.theory", "gaussdsm.montecarlo", "gaussdsm.stages", "gaussdsm.study",
                          "gaussdsm.cli", "gaussdsm.figures"),
    "gaussdsm.spectra": ("gaussdsm.samplers", "gaussdsm.theory", "gaussdsm.montecarlo", "gaussdsm.stages"),
}
"""Lower layers and what they never import (a prefix: the package and its modules)."""


def test_lower_layers_do_not_import_upper_ones():
    modules, graph = _graph()
    bad = []
    for low, forbidden in LAYERS.items():
        for name in modules:
            if name != low and not name.startswith(low + "."):
                continue
            for dep in graph[name]:
                if low in ("gaussdsm._jet", "gaussdsm._checks") and dep.startswith("gaussdsm."):
                    bad.append(f"{name} -> {dep}")
                bad += [f"{name} -> {dep}" for f in forbidden if dep == f or dep.startswith(f + ".")]
    assert not bad, bad


def test_a_workflow_stage_imports_no_heavy_optional_module():
    """Every workflow job imports gaussdsm.stages: scipy.stats (0.4 s), scipy.optimize, numba and matplotlib are
    imported where used, not at start-up (their import doubled the default run's job overhead)."""
    import subprocess
    import sys

    heavy = ("scipy.stats", "scipy.optimize", "numba", "matplotlib")
    code = f"import sys, gaussdsm.stages; print(sorted(set({heavy!r}) & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
