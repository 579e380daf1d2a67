# gaussdsm: DSM -> Langevin error study.  Run:  snakemake --cores N   (see README.md)
# The workflow's own files are found next to this Snakefile, so `snakemake -s path/to/Snakefile` and `--directory`
# work from anywhere (results/ and logs/ go to the working directory; data files in a config are relative to it).
# It is also a Snakemake module (`module gaussdsm: snakefile: ...; use rule * from gaussdsm as gaussdsm_*`,
# docs/usage-as-module.md): then the host's `config:` replaces the default config/config.yaml.
import os

from snakemake.utils import min_version

from gaussdsm.schema import validate

min_version("9.0")


# This workflow's own files, by their path relative to this Snakefile: the files themselves in a checkout, Snakemake's
# cached copies when the Snakefile comes from a repository (a module's `github(...)`).
_here = str(workflow.current_basedir)  # this Snakefile's directory (or its repository URL)
workflow_file = lambda path: (
    os.path.join(_here, path) if os.path.exists(os.path.join(_here, path)) else workflow.source_path(path)
)


configfile: workflow_file("config/config.yaml")


validate(config, workflow_file("workflow/schemas/config.schema.yaml"))


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
