# Helpers shared by all stages: the study plan (grid points, chunks) and result paths.
# The plan comes from the installed package (gaussdsm.study), so it is unit-tested there.
import gaussdsm.io
from gaussdsm.study import check_config


report: "../report/workflow.rst"



STUDY = check_config(config)  # cross-field checks: raises before any job runs
RESULTS = f"results/{STUDY.name}"
LOGS = f"logs/{STUDY.name}"
CODE_VERSION = gaussdsm.io.code_version()  # a params value: library edits rerun the stages


wildcard_constraints:
    chunk="|".join(STUDY.chunk_ids),


def chunk_points(wildcards):
    return STUDY.chunk_points(wildcards.chunk)


def langevin_chunks(wildcards):
    return expand(f"{RESULTS}/langevin/chunk-{{chunk}}.nc", chunk=STUDY.chunk_ids)


def figure_files(name):
    return [f"{RESULTS}/figures/{name}.{ext}" for ext in config["figures"]["formats"]]


def final_outputs():
    return [f"{RESULTS}/summary.nc", f"{RESULTS}/figures/error_vs_n.nc", *figure_files("error_vs_n")]
