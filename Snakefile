# gaussdsm: DSM -> Langevin error study.  Run:  snakemake --cores N   (see README.md)
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


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
