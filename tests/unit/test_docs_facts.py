"""Facts the README and the guide state that could drift from the code: the rule names they mention are the
workflow's, the sections they cite exist in docs/samplers.md and docs/theory.md (a range from the first section
or result is the whole of the notes), and no hard test count."""
from __future__ import annotations

import re

import pytest

from gaussdsm.figures import PANELS

#: snakemake's own vocabulary that the patterns below would take for a rule's name
NOT_RULES = {"rules", "chunk", "the", "a", "one", "each", "every"}


def pages(repo) -> dict[str, str]:
    """README.md and the Markdown pages of docs/ (fenced code blocks left out: they hold examples of host
    workflows, whose rules are not gaussdsm's)."""
    files = [repo / "README.md", *sorted((repo / "docs").glob("*.md")), *sorted((repo / "docs" / "guide").glob("*.md"))]
    return {str(f.relative_to(repo)): re.sub(r"```.*?```", "", f.read_text(encoding="utf-8"), flags=re.S)
            for f in files}


def workflow_rules(repo) -> set[str]:
    """The rules of the workflow: ``rule NAME:`` in the Snakefile and workflow/rules, and one ``figure_<panel>``
    per panel of the registry (workflow/rules/figures.smk names them in a loop)."""
    text = "\n".join(p.read_text() for p in [repo / "Snakefile", *sorted((repo / "workflow" / "rules").glob("*.smk"))])
    named = set(re.findall(r"^\s*rule\s+(\w+)\s*:", text, re.M))
    assert 'f"figure_{_panel.name}"' in text  # the loop this function mirrors
    return named | {f"figure_{p}" for p in PANELS}


RULE_MENTIONS = [
    r"`(\w+)` (?:rule|rules|chunk|chunks|job|jobs|stage)\b",  # the `fit_scores` chunk
    r"\brules? `(\w+)`",  # rule `aggregate`
    r"\brule '(\w+)'",  # (read by rule 'aggregate')
    r"Error in rule (\w+)",
    r"\{rule: (\w+)\}",  # fault_injection: {rule: fit_scores}
    r"GAUSSDSM_FAULT=(\w+)",
    r"--set-(?:resources|threads) (\w+):",
    r"`(figure_\w+)`",
]


def mentioned_rules(text: str) -> set[str]:
    out = set()
    for pattern in RULE_MENTIONS:
        out |= set(re.findall(pattern, text, re.M))
    return {re.sub(r"^gaussdsm_", "", r) for r in out} - NOT_RULES


def test_rule_names_in_the_docs_are_the_workflows(repo):
    rules = workflow_rules(repo)
    assert {"spectra", "fit_scores", "run_sampler", "analytic_error", "aggregate", "all"} <= rules
    seen = set()
    for name, text in pages(repo).items():
        found = mentioned_rules(text)
        assert found <= rules, f"{name} mentions rules the workflow does not have: {sorted(found - rules)}"
        seen |= found & rules
    assert {"run_sampler", "fit_scores", "aggregate"} <= seen, seen  # the patterns do find the mentions
    # the SLURM profile's groups name rules
    profile = (repo / "profiles" / "slurm" / "config.yaml").read_text()
    groups = profile[profile.index("\ngroups:"):].split("\ngroup-components:")[0]
    grouped = set(re.findall(r"^\s*-\s*(\w+)=\w+", groups, re.M))
    assert grouped and grouped <= rules, grouped - rules


def test_the_table_of_rules_lists_every_rule(repo):
    """docs/guide/running.md's table of rules names every rule of the workflow (rule all aside), and no other."""
    text = (repo / "docs" / "guide" / "running.md").read_text(encoding="utf-8")
    table = text[text.index("| rule | does | output |"):].split("\n\n")[0]
    listed = set(re.findall(r"`(\w+)`", "\n".join(row.split("|")[1] for row in table.splitlines()[2:])))
    assert listed == workflow_rules(repo) - {"all"}


def sections(path) -> set[int]:
    """The numbered top-level sections (``## 7. ...``) of a notes file."""
    return {int(n) for n in re.findall(r"^## (\d+)\.", path.read_text(encoding="utf-8"), re.M)}


def results(path) -> set[int]:
    """The results ``### R<n>.`` of docs/theory.md."""
    return {int(n) for n in re.findall(r"^### R(\d+)\.", path.read_text(encoding="utf-8"), re.M)}


CITATION = re.compile(r"\b(samplers|theory)(?:\.md| notes'?)\s+§(\d+)(?:\s*[–-]\s*§?(\d+))?")


def cited_texts(repo):
    """Every file that cites the notes: the docs pages, the package's sources, the workflow and the configs."""
    yield from pages(repo).items()
    for pattern in ("src/**/*.py", "workflow/**/*", "config/*.yaml"):
        for f in sorted(repo.glob(pattern)):
            if f.is_file() and f.suffix in (".py", ".rst", ".smk", ".yaml", ".md"):
                yield str(f.relative_to(repo)), f.read_text(encoding="utf-8")


def test_cited_sections_exist_and_whole_ranges_are_whole(repo):
    have = {"samplers": sections(repo / "docs" / "samplers.md"), "theory": sections(repo / "docs" / "theory.md")}
    assert max(have["samplers"]) >= 9 and max(have["theory"]) >= 7
    n = 0
    for name, text in cited_texts(repo):
        for notes, first, last in CITATION.findall(text):
            first, last = int(first), int(last or first)
            missing = set(range(first, last + 1)) - have[notes]
            assert not missing, f"{name} cites {notes}.md §{first}–§{last}: no §{sorted(missing)}"
            n += 1
    assert n >= 20, n


@pytest.mark.parametrize("kind", ["§", "R"])
def test_a_range_from_the_first_section_of_the_docs_is_the_whole_notes(repo, kind):
    """"samplers notes' §1–§9", "R1–R12": a range from 1 on the docs pages names all of the notes, so it ends at
    the last section (result) there is."""
    last = {"§": max(sections(repo / "docs" / "samplers.md")), "R": max(results(repo / "docs" / "theory.md"))}[kind]
    pattern = re.compile(rf"{kind}1\s*[–-]\s*{kind}?(\d+)")
    n = 0
    for name, text in pages(repo).items():
        if name in ("docs/theory.md", "docs/samplers.md"):  # the notes cite their own parts
            continue
        for end in pattern.findall(text):
            assert int(end) == last, f"{name}: {kind}1–{kind}{end}, but the notes go to {kind}{last}"
            n += 1
    assert n >= 1


def test_no_hard_test_count_in_the_docs(repo):
    """A number of tests goes stale with the next test: the docs do not state one."""
    for name, text in pages(repo).items():
        assert not re.search(r"\b\d{2,} (?:unit |workflow )?tests\b", text), name
