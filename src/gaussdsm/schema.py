"""The configuration's JSON schema: validation that fills the defaults and says what is wrong in one line per error.

Snakemake's own ``snakemake.utils.validate`` fills the schema's defaults the same way but reports the first error
with the whole (sub)schema and instance printed before the line that matters.  :func:`validate` collects *every*
error first, each as ``<dotted path> = <value>: <rule it breaks>`` (for an unknown key, the closest known one),
raises :class:`gaussdsm.study.ConfigError` with those lines and nothing else, and only fills the defaults
(``default:`` of every property, recursively, as Snakemake does) of a configuration that is valid.

The schema file is the workflow's ``workflow/schemas/config.schema.yaml`` (its keys, ranges, defaults and
descriptions); the Snakefile passes its path, resolved next to itself.  Where the names a key allows are a registry of
the package (a new scheme, process, grid or metric is one module and one registry entry), the file says
``x-registry: NAME`` and :func:`load` fills in ``enum`` from :data:`REGISTRIES`: the registry is the one source.
"""

from __future__ import annotations

import difflib
import re
import reprlib
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators

__all__ = ["validate", "error_lines", "dotted_path", "load", "REGISTRIES"]

_repr = reprlib.Repr()  # values in messages: short (Python 3.11's Repr takes no keyword arguments)
_repr.maxstring, _repr.maxother, _repr.maxlist, _repr.maxdict, _repr.maxlevel = 40, 60, 4, 3, 2


def _registry(name: str) -> list[str]:
    from . import metrics
    from .samplers import diffusion

    from .theory import kinds

    registries = {"schemes": diffusion.SCHEMES, "processes": diffusion.PROCESSES, "grids": diffusion.GRIDS,
                  "start_laws": diffusion.START_LAWS, "metrics": metrics.METRICS, "theories": kinds.CHOICES}
    if name not in registries:
        raise ValueError(f"x-registry must be one of {', '.join(registries)}; got {name!r}")
    return list(registries[name])


REGISTRIES = ("schemes", "processes", "grids", "start_laws", "metrics", "theories")
"""The registries a schema may name with ``x-registry`` (:func:`load`)."""


def _fill_registries(node):
    if isinstance(node, dict):
        if "x-registry" in node:
            node["enum"] = _registry(node["x-registry"])
        for v in node.values():
            _fill_registries(v)
    elif isinstance(node, list):
        for v in node:
            _fill_registries(v)
    return node


def load(schema) -> dict:
    """The schema (a path to its YAML or JSON file, or a dict, not modified) with every ``x-registry: NAME`` node's
    ``enum`` filled in from that registry of the package (:data:`REGISTRIES`)."""
    if isinstance(schema, dict):
        import copy

        return _fill_registries(copy.deepcopy(schema))
    with open(Path(schema), encoding="utf-8") as fh:
        return _fill_registries(yaml.safe_load(fh))


_load = load


def dotted_path(parts) -> str:
    """``['studies', 'p1', 'grid', 'sigma', 0]`` -> ``'studies.p1.grid.sigma[0]'`` (``'(top level)'`` if empty)."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _known_keys(schema: dict) -> list[str]:
    keys = set(schema.get("properties", {}))
    for sub in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
        keys |= set(sub.get("properties", {}))
    return sorted(keys)


def _rule(err) -> str:
    """What the value breaks, in words (jsonschema's wording where it is already short)."""
    v, s = err.validator, err.validator_value
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[v]
        return f"must be {op} {s}"
    if v == "type":
        kinds = s if isinstance(s, list) else [s]
        return "must be " + " or ".join(f"{'an' if k[0] in 'aeiou' else 'a'} {k}" for k in kinds)
    if v in ("enum", "const"):
        allowed = s if v == "enum" else [s]
        close = difflib.get_close_matches(str(err.instance), [str(a) for a in allowed], n=1, cutoff=0.6)
        return (f"must be one of {', '.join(map(str, allowed))}" if len(allowed) > 1 else f"must be {allowed[0]}") + (
            f" (did you mean {close[0]!r}?)" if close else "")
    if v == "minItems":
        return f"needs at least {s} item{'s' if s != 1 else ''}"
    if v == "maxItems":
        return f"takes at most {s} item{'s' if s != 1 else ''}"
    if v == "uniqueItems":
        return "has repeated values"
    if v in ("anyOf", "oneOf"):
        options = []
        for sub in s:
            if "type" in sub:
                bound = next((f" {op} {sub[k]}" for k, op in (("minimum", ">="), ("exclusiveMinimum", ">"))
                              if k in sub), "")
                options.append(f"{sub['type']}{bound}")
            elif "enum" in sub:
                options += [str(v) for v in sub["enum"]]
        options = list(dict.fromkeys(options))  # YAML's .inf and 'inf' print alike
        return "must be " + (" or ".join(options) if options else "one of the allowed forms")
    return err.message.replace(_repr.repr(err.instance), "the value") if len(err.message) > 120 else err.message


def _line(err) -> list[str]:
    path = list(err.absolute_path)
    where = dotted_path(path)
    if err.validator == "additionalProperties":
        known = _known_keys(err.schema)
        unknown = sorted(k for k in err.instance if k not in known)
        out = []
        for key in unknown:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            out.append(f"{dotted_path(path + [key])}: unknown key ({hint}known: {', '.join(known)})")
        return out
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else str(err.validator_value)
        return [f"{dotted_path(path + [missing])}: missing (required)"]
    return [f"{where} = {_repr.repr(err.instance)}: {_rule(err)}"]


def error_lines(config: dict, schema) -> list[str]:
    """One line per schema error of ``config`` (sorted by path), empty if it is valid.  Nothing is modified."""
    schema = _load(schema)
    lines = []
    for err in sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        lines += _line(err)
    return list(dict.fromkeys(lines))


def _with_defaults(cls):
    """The validator class that fills each property's ``default`` (the jsonschema FAQ recipe Snakemake uses)."""
    check_properties = cls.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub:
                    instance.setdefault(name, sub["default"])
        yield from check_properties(validator, props, instance, schema)

    return validators.extend(cls, {"properties": properties})


YAML12_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
"""A number in YAML 1.2 (and JSON).  PyYAML reads YAML 1.1, where a float needs a dot: ``1e-3`` is the string
'1e-3' there (``1.0e-3`` is a number)."""


def _type_errors(err):
    yield err
    for sub in err.context or ():
        yield from _type_errors(sub)


def yaml11_numbers(config: dict, schema) -> list[str]:
    """Read back as numbers, in place, the strings that YAML 1.1 left as text where the schema wants a number
    (``t_min: [1e-3]``); returns the dotted paths changed.  Only a string that is a YAML 1.2 number and sits where
    a ``number`` or ``integer`` is expected is changed (an image name ``1e3`` stays a name)."""
    schema = _load(schema)
    changed = []
    for _ in range(8):  # a coerced value can expose the next one (items of an anyOf)
        todo = {}
        for top in Draft202012Validator(schema).iter_errors(config):
            for err in _type_errors(top):
                want = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
                if (err.validator == "type" and isinstance(err.instance, str) and YAML12_NUMBER.fullmatch(err.instance)
                        and {"number", "integer"} & set(want)):
                    todo[tuple(err.absolute_path)] = err.instance
        todo = {p: v for p, v in todo.items() if p}
        if not todo:
            break
        for path, text in todo.items():
            parent = config
            for key in path[:-1]:
                parent = parent[key]
            x = float(text)
            parent[path[-1]] = int(x) if x.is_integer() and "." not in text and "e" not in text.lower() else x
            changed.append(dotted_path(path))
    return changed


def validate(config: dict, schema) -> dict:
    """Validate ``config`` against the schema, then fill its defaults in place (as ``snakemake.utils.validate``).

    Parameters
    ----------
    config : dict
        The merged configuration (Snakemake's ``config``).
    schema : path-like or dict
        The JSON schema (YAML or JSON file).

    Returns
    -------
    dict
        ``config`` itself, defaults filled, and numbers that YAML 1.1 read as text (``1e-3``) read as numbers
        (:func:`yaml11_numbers`).

    Raises
    ------
    gaussdsm.study.ConfigError
        ``Invalid config (n errors):`` then one line per error, e.g.
        ``studies.p1.grid.sigma[0] = 0.0: must be > 0`` or
        ``studies.p1.grid.sigmaa: unknown key (did you mean 'sigma'? known: gamma, n_samples, sigma, tau)``.
    """
    from .study import ConfigError

    schema = _load(schema)
    yaml11_numbers(config, schema)
    lines = error_lines(config, schema)
    if lines:
        n = len(lines)
        raise ConfigError(f"Invalid config ({n} error{'s' if n > 1 else ''}; keys and ranges: "
                          f"workflow/schemas/config.schema.yaml):\n  - " + "\n  - ".join(lines))
    _with_defaults(Draft202012Validator)(schema).validate(config)
    return config
