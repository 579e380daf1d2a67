"""The examples of the README and of the user guide (``docs/guide/*.md``) cannot drift: every ``console`` block
is run and its output compared, every ``pycon`` block is run as a doctest with the same comparison, every ``yaml``
config block passes the schema.

Conventions (stated in the README and in ``docs/guide/cli.md``): ``$ `` starts a command, the lines after it are its output; a line ``...``
matches any number of lines and ``...`` inside a line any text; numbers are compared to their printed precision
(one unit of the last printed digit, so a last-digit rounding flip on another BLAS passes, a changed result not);
a command whose line ends with ``# not run by the tests: <why>`` is skipped.  ``bash`` blocks are instructions
(make, snakemake, SLURM), exercised by the workflow tests, not run here.

The examples run in a directory where ``snakemake results/p1/summary.nc`` ran with the default config, as after
``make run``; ``gaussdsm`` commands run in-process (:func:`gaussdsm.cli.main`).
"""
from __future__ import annotations

import contextlib
import doctest
import io
import re
import shlex
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.workflow

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
NOT_RUN = "# not run by the tests"


def blocks(text: str, lang: str) -> list[tuple[int, str]]:
    """``(line number, body)`` of every fenced block of language ``lang``."""
    out = []
    for m in re.finditer(rf"^```{lang}\n(.*?)^```", text, re.S | re.M):
        out.append((text[: m.start()].count("\n") + 2, m.group(1)))
    return out


def _ulp(token: str) -> float:
    """One unit of the last printed digit of a number as printed (``'1.20' -> 0.01``, ``'2e-05' -> 1e-05``)."""
    mant, _, exp = token.lower().partition("e")
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    return 10.0 ** (int(exp or 0) - decimals)


def _line_matches(want: str, got: str) -> bool:
    """One line: text equal outside numbers and ``...``; numbers within one unit of their last printed digit."""
    parts = want.rstrip().split("...")
    pattern, numbers = "", []
    for k, part in enumerate(parts):
        pos = 0
        for m in NUMBER.finditer(part):
            pattern += re.escape(part[pos:m.start()]) + f"({NUMBER.pattern})"
            numbers.append(m.group())
            pos = m.end()
        pattern += re.escape(part[pos:]) + (".*?" if k < len(parts) - 1 else "")
    m = re.fullmatch(pattern, got.rstrip())
    if not m:
        return False
    return all(abs(float(g) - float(w)) <= 1.0001 * _ulp(w) for g, w in zip(m.groups(), numbers))


def output_matches(want: list[str], got: list[str]) -> bool:
    """Lines with ``...`` lines matching any number of lines (backtracking)."""
    if not want:
        return not got
    if want[0].strip() == "...":
        return any(output_matches(want[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and _line_matches(want[0], got[0]) and output_matches(want[1:], got[1:])


def console_examples(text: str) -> list[tuple[int, str, list[str]]]:
    """``(line number, command, expected output lines)`` of every console block."""
    out = []
    for start, body in blocks(text, "console"):
        for k, line in enumerate(body.splitlines()):
            if line.startswith("$ "):
                out.append([start + k, line[2:], []])
            elif out:
                out[-1][2].append(line)
    return [tuple(x) for x in out]


@pytest.fixture(scope="module")
def readme(repo) -> str:
    return (repo / "README.md").read_text()


@pytest.fixture(scope="module")
def pages(repo) -> dict[str, str]:
    """The README and the user guide's pages, by path relative to the repository."""
    files = [repo / "README.md", *sorted((repo / "docs" / "guide").glob("*.md"))]
    return {str(f.relative_to(repo)): f.read_text() for f in files}


@pytest.fixture(scope="module")
def after_run(tmp_path_factory, repo):
    """A working directory with ``results/p1/summary.nc`` of the default config (as after ``make run``)."""
    wd = tmp_path_factory.mktemp("readme")
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--cores", "2",
                          "results/p1/summary.nc"], cwd=wd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return wd


def _run(command: str) -> str:
    """A ``gaussdsm ...`` command in-process (``> file`` redirects its output); returns what it printed."""
    from gaussdsm.cli import main

    argv = shlex.split(command, comments=True)
    target = None
    if ">" in argv:
        argv, target = argv[: argv.index(">")], argv[argv.index(">") + 1]
    assert argv[0] == "gaussdsm", f"console examples run gaussdsm only: {command}"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(argv[1:])
    if target:
        with open(target, "w") as fh:
            fh.write(buf.getvalue())
        return ""
    return buf.getvalue()


def test_the_pages_have_examples_of_each_kind(readme, pages):
    cmds = [c for text in pages.values() for _, c, _ in console_examples(text)]
    assert sum(c.startswith("gaussdsm error") for c in cmds) >= 5
    assert any(c.startswith("gaussdsm provenance") for c in cmds)
    assert sum(len(blocks(text, "pycon")) for text in pages.values()) >= 2
    assert any(blocks(text, "yaml") for text in pages.values())
    assert any(c.startswith("gaussdsm error") for _, c, _ in console_examples(readme)) and blocks(readme, "pycon")
    assert "make run" in readme and "make test" in readme and "make docs" in readme


def test_console_examples_print_what_the_pages_show(pages, after_run, monkeypatch):
    monkeypatch.chdir(after_run)
    failures, ran = [], 0
    for name, text in pages.items():
        for line, command, want in console_examples(text):
            if NOT_RUN in command:
                continue
            got = _run(command).splitlines()
            ran += 1
            if want and not output_matches(want, got) or not want and got:
                failures.append(f"{name}:{line}: $ {command}\n--- shown:\n" + "\n".join(want)
                                + "\n--- printed:\n" + "\n".join(got))
    assert ran >= 8
    assert not failures, "\n\n".join(failures)
    assert yaml.safe_load((after_run / "p1.yaml").read_text())["studies"]["p1"]["spectrum"]["d"] == 16


def test_python_examples_print_what_the_pages_show(pages, after_run, monkeypatch):
    monkeypatch.chdir(after_run)
    parser = doctest.DocTestParser()
    failures = []
    for name, text in pages.items():
        for line, body in blocks(text, "pycon"):
            namespace: dict = {}
            for ex in parser.get_examples(body):
                buf = io.StringIO()
                with contextlib.redirect_stdout(buf):
                    exec(compile(ex.source, f"{name}:{line + ex.lineno}", "single"), namespace)
                got, want = buf.getvalue().splitlines(), ex.want.splitlines()
                if not output_matches(want, got):
                    failures.append(f"{name}:{line + ex.lineno}: >>> {ex.source.strip()}\n--- shown:\n{ex.want}"
                                    f"--- printed:\n{buf.getvalue()}")
    assert not failures, "\n\n".join(failures)


def test_yaml_examples_are_valid_configs(pages, repo):
    from gaussdsm.schema import validate

    checked = 0
    for name, text in pages.items():
        for line, body in blocks(text, "yaml"):
            cfg = yaml.safe_load(body)
            if "studies" in cfg:
                validate(cfg, repo / "workflow" / "schemas" / "config.schema.yaml")  # raises ConfigError, naming the key
                checked += 1
    assert checked >= 1


def test_the_comparison_rules_can_fail():
    """The matcher itself: the printed precision is the tolerance, text and line structure must agree."""
    assert output_matches(["  z = +1.20"], ["  z = +1.21"]) and not output_matches(["  z = +1.20"], ["  z = +1.22"])
    assert output_matches(["a 2e-05 b"], ["a 1.5e-05 b"]) and not output_matches(["a 2e-05 b"], ["a 3.5e-05 b"])
    assert output_matches(["x", "...", "y"], ["x", "1", "2", "y"]) and not output_matches(["x", "y"], ["x", "1", "y"])
    assert output_matches(['{"a": 1, ...}'], ['{"a": 1, "b": 2}']) and not output_matches(["bias 1"], ["bios 1"])


RUN_TIME = re.compile(r"\*\*(\d+(?:\.\d+)?)–(\d+(?:\.\d+)?) min on 2 cores\*\* after the install \(measured "
                      r"\d{4}-\d\d-\d\d with `benchmarks/bench_workflow.py`: (\d+) studies,\s+(\d+) jobs, \d+ MB of "
                      r"results, (\d+) s and (\d+) s in two runs")


def test_the_default_config_quotes_the_readme_run_time(readme, pages, repo):
    """config/config.yaml's header and the README (and any guide page that repeats it) give the same measured time
    range and job count for the default study, and the range holds the runs it quotes."""
    assert RUN_TIME.search(readme), "the README's measured default run"
    header = (repo / "config" / "config.yaml").read_text().split("seed:")[0]
    n_studies = len(yaml.safe_load((repo / "config" / "config.yaml").read_text())["studies"])
    for name, text in pages.items():
        for claim in RUN_TIME.finditer(text):
            low, high, studies, jobs = claim.group(1), claim.group(2), claim.group(3), claim.group(4)
            assert int(studies) == n_studies, (name, claim.group(0))
            assert all(60 * float(low) <= float(claim.group(k)) <= 60 * float(high) for k in (5, 6)), claim.group(0)
            assert f"{low}-{high} min on 2 cores, {jobs} jobs" in header, (name, header)
