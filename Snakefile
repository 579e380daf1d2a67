# gaussdsm: DSM -> Langevin error study.  Run:  snakemake --cores N   (see README.md)
# The workflow's own files are found next to this Snakefile, so `snakemake -s path/to/Snakefile` and `--directory`
# work from anywhere (results/ and logs/ go to the working directory; data files in a config are relative to it).
from pathlib import Path

from snakemake.utils import min_version

from gaussdsm.schema import validate

min_version("9.0")


configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


validate(config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/spectra.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    localrule: True
    input:
        PLAN.targets(),
