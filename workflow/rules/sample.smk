rule run_sampler:
    """The sampler's law for every learned score and every sampler setting; squared W2 error per replicate."""
    input:
        unpack(sampler_inputs),
    output:
        "results/{study}/sampler/chunk-{chunk}.nc",
    params:
        sampler=sampler_args,
        code=CODE_VERSION,
    log:
        "logs/{study}/run_sampler/chunk-{chunk}.log",
    benchmark:
        "logs/benchmarks/{study}/run_sampler/chunk-{chunk}.tsv",
    threads: 1
    resources:
        mem_mb=mc_mem_mb,
        runtime=30,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/run_sampler.py"


# Before any job: each study's estimated jobs, CPU time and memory, with a warning for a Monte-Carlo job that would
# outlast its time limit (the rules' runtime, here and in fit.smk, as a profile sets them).
print_estimates()
