"""Bad configurations are rejected before any job: the JSON schema (as the Snakefile applies it) and the
cross-field checks of gaussdsm.study, in-process.  Three of these also run through the CLI
(tests/workflow/test_workflow.py), which shows that Snakemake stops before building the DAG."""
from __future__ import annotations

import pytest

from gaussdsm.schema import validate
from gaussdsm.study import ConfigError, Plan

BAD_CONFIGS = [
    # (study changes, top-level changes, text the message must contain)
    ({"grid": {"sigma": [0.0]}}, {}, "studies.tiny.grid.sigma[0] = 0.0: must be > 0"),
    ({"grid": {"sigma": [-0.2]}}, {}, "studies.tiny.grid.sigma[0] = -0.2: must be > 0"),
    ({"grid": {"n_samples": [0]}}, {}, "studies.tiny.grid.n_samples[0] = 0: must be integer >= 1 or inf"),
    ({"grid": {"n_samples": [10.5]}}, {}, "studies.tiny.grid.n_samples[0] = 10.5: must be integer >= 1 or inf"),
    ({"grid": {"gamma": [-0.01]}}, {}, "studies.tiny.grid.gamma[0] = -0.01: must be >= 0"),
    ({"grid": {"gamma": []}}, {}, "studies.tiny.grid.gamma = []: needs at least 1 item"),
    ({"grid": {"gamma": [2.0]}}, {}, "studies.tiny.grid.gamma"),
    ({"grid": {"tau": [0.001]}}, {}, "studies.tiny.grid.tau"),
    ({"spectrum": {"kind": "custom", "d": 2, "values": [1.0, -0.5]}}, {},
     "studies.tiny.spectrum.values[1] = -0.5: must be >= 0"),
    ({"spectrum": {"kind": "custom", "d": 3, "values": [1.0, 0.5]}}, {}, "studies.tiny.spectrum.values"),
    ({"spectrum": {"kind": "gaussian_blob"}}, {},
     "studies.tiny.spectrum.kind = 'gaussian_blob': must be one of power_law, stationary_1d"),
    ({"spectrum": {"kind": "stationary_2d", "d": 10}}, {}, "studies.tiny.spectrum.d"),
    ({"spectrum": {"alpha": -1.0}}, {}, "studies.tiny.spectrum.alpha = -1.0: must be >= 0"),
    ({"spectrum": {"d": 0}}, {}, "studies.tiny.spectrum.d = 0: must be >= 1"),
    ({"fit": {"model": "convolutional"}}, {},
     "studies.tiny.fit.model = 'convolutional': must be one of full, diagonal"),
    ({"fit": {"loss_factor": 0}}, {}, "studies.tiny.fit.loss_factor = 0: must be > 0"),
    ({"montecarlo": {"n_replicates": 1}}, {}, "studies.tiny.montecarlo.n_replicates = 1: must be >= 2"),
    ({"montecarlo": {"points_per_job": 0}}, {}, "studies.tiny.montecarlo.points_per_job = 0: must be >= 1"),
    ({"montecarlo": {"draw": "bootstrap"}}, {},
     "studies.tiny.montecarlo.draw = 'bootstrap': must be one of auto, wishart, samples"),
    ({"sigmaa": [0.1]}, {},
     "studies.tiny.sigmaa: unknown key (known: fit, grid, metrics, montecarlo, panels, sampler, spectrum, theory)"),
    ({"grid": {"sigmaa": [0.1]}}, {}, "studies.tiny.grid.sigmaa: unknown key (did you mean 'sigma'? known: gamma, "),
    ({"spectrum": {"kind": "power_law", "d": 4, "alpah": 1.0}}, {},
     "spectrum.alpah: unknown key (did you mean 'alpha'?"),
    ({}, {"seed": -1}, "seed = -1: must be >= 0"),
    ({}, {"run_studies": ["nope"]}, "run_studies"),
    ({}, {"figures": {"formats": ["gif"]}}, "figures.formats[0] = 'gif': must be one of png, pdf"),
    ({"fit": {"method": "sgd"}, "grid": {"tau": [5.0]}}, {}, "studies.tiny.grid.tau: SGD is unstable"),
    ({"fit": {"method": "sgd", "sgd": {"batch_size": 0}}, "grid": {"tau": [0.001]}}, {},
     "studies.tiny.fit.sgd.batch_size = 0: must be >= 1"),
    ({"fit": {"method": "sgd", "sgd": {"n_snapshots": 0}}, "grid": {"tau": [0.001]}}, {},
     "studies.tiny.fit.sgd.n_snapshots = 0: must be >= 1"),
    ({"fit": {"method": "adam"}}, {}, "studies.tiny.fit.method = 'adam': must be one of exact"),
    ({"grid": {"tau": [-0.001]}}, {}, "studies.tiny.grid.tau[0] = -0.001: must be >= 0"),
    ({"panels": ["error_vs_tau"]}, {}, "studies.tiny.panels: error_vs_tau needs fit.method: sgd"),
    ({"panels": ["heatmap"]}, {}, "studies.tiny.panels[0] = 'heatmap': must be one of error_vs_n, error_vs_tau"),
    ({}, {"comparisons": {"c": {"panel": "spectrum_shape", "studies": ["nope"]}}}, "comparisons.c.studies"),
    ({}, {"comparisons": {"c": {"panel": "bar_chart", "studies": ["tiny"]}}},
     "comparisons.c.panel = 'bar_chart': must be one of spectrum_shape"),
    # samplers
    ({"sampler": {"n_steps": [0]}}, {}, "studies.tiny.sampler.n_steps[0] = 0: must be integer >= 1 or inf"),
    ({"sampler": {"n_steps": [2.5]}}, {}, "studies.tiny.sampler.n_steps[0] = 2.5: must be integer >= 1 or inf"),
    ({"sampler": {"n_steps": ["many"]}}, {}, "studies.tiny.sampler.n_steps[0] = 'many': must be integer >= 1 or inf"),
    ({"sampler": {"init_var": -1.0}}, {}, "studies.tiny.sampler.init_var = -1.0: must be >= 0"),
    ({"sampler": {"kind": "uld", "friction": [0.0]}}, {}, "studies.tiny.sampler.friction[0] = 0.0: must be > 0"),
    ({"sampler": {"kind": "hmc"}}, {}, "studies.tiny.sampler.kind = 'hmc': must be one of ula, uld"),
    ({"sampler": {"friction": [2.0]}}, {}, "studies.tiny.sampler.friction is only used by sampler.kind: uld"),
    ({"sampler": {"kind": "uld"}}, {}, "studies.tiny.sampler.friction is required by sampler.kind: uld"),
    ({"sampler": {"kind": "uld", "friction": [0.01]}, "grid": {"gamma": [0.02]}}, {},
     "studies.tiny.grid.gamma: ULD is unstable unless gamma < friction (lam_min + sigma^2)"),
    ({"sampler": {"n_steps": [100]}}, {}, "studies.tiny.grid.gamma: a finite sampler.n_steps needs gamma > 0"),
    ({"grid": {"n_samples": ["inf"], "tau": [0.0, 0.001]}, "fit": {"method": "sgd"}}, {},
     "studies.tiny.grid.n_samples: inf (the population score) learns nothing"),
    ({"grid": {"n_samples": [-5]}}, {}, "studies.tiny.grid.n_samples[0] = -5: must be integer >= 1 or inf"),
    ({}, {"comparisons": {"c": {"panel": "error_vs_steps", "studies": ["tiny"]}}},
     "comparisons.c: error_vs_steps needs studies with finite sampler.n_steps"),
    # diffusion; D = a diffusion study without grid.sigma/gamma (see diffusion_config below)
    ("D", {"sampler": {"t_min": [-0.1]}}, "studies.tiny.sampler.t_min[0] = -0.1: must be >= 0"),
    ("D", {"sampler": {"T": 0.01, "t_min": [0.1]}}, "sampler.T must be > sampler.t_min"),
    ("D", {"sampler": {"n_steps": [0]}}, "studies.tiny.sampler.n_steps[0] = 0: must be integer >= 1 or inf"),
    ("D", {"sampler": {"beta_min": 30.0}}, "sampler.beta_min must be <= sampler.beta_max"),
    ("D", {"sampler": {"beta_min": 0.0}}, "studies.tiny.sampler.beta_min = 0.0: must be > 0"),
    ("D", {"sampler": {"process": "ve", "sigma_min": 60.0}}, "sampler.sigma_min must be < sampler.sigma_max"),
    ("D", {"sampler": {"process": "ve", "scheme": ["ddpm"]}}, "ddpm (ancestral sampling, Ho et al. 2020) needs"),
    ("D", {"sampler": {"scheme": ["midpoint"]}},
     "studies.tiny.sampler.scheme[0] = 'midpoint': must be one of em, ei, ddpm, euler, ddim, heun"),
    ("D", {"sampler": {"process": "sigmoid"}}, "studies.tiny.sampler.process = 'sigmoid': must be one of vp, vp_cosine"),
    ("D", {"sampler": {"process": "flow", "T": 2.0}}, "sampler.T must be <= 1 with process flow"),
    ("D", {"sampler": {"process": "flow", "scheme": ["em"]}}, "sampler.scheme em divides by the signal scale"),
    ("D", {"sampler": {"process": "vp", "scheme": ["heun_churn"]}}, "needs sampler.process: edm"),
    ("D", {"sampler": {"process": "vp_exp", "exp_rate": 0}}, "sampler.exp_rate must be non-zero with process vp_exp"),
    ("D", {"sampler": {"process": "edm", "scheme": ["heun_churn"], "s_tmin": 60.0}}, "sampler.s_tmin must be <= sampler.s_tmax"),
    ("D", {"sampler": {"grid": "log"}},
     "studies.tiny.sampler.grid = 'log': must be uniform or geometric or edm or karras or exponential or "
     "polyexponential or vp or kl_optimal or linear_quadratic or ays_sd15 or ays_sdxl or ays_svd or simple or normal or "
     "sgm_uniform or ddim_uniform or beta or leading or trailing or linspace or flow_shift or flow_dynamic or optimal or "
     "array"),
    ("D", {"sampler": {"scheme": ["heun"], "t_min": [0.0]}}, "sampler.t_min must be > 0 with scheme heun"),
    ("D", {"sampler": {"process": "sd_discrete", "grid": "leading", "T": 1000.0}},
     "sampler.T must be left out with sampler.grid leading on process sd_discrete"),
    ("D", {"sampler": {"process": "vp", "grid": "trailing"}},
     "sampler.grid trailing needs sampler.process sd_discrete"),
    ("D", {"sampler": {"process": "flow", "grid": "flow_shift", "shift": 0}}, "studies.tiny.sampler.shift = 0"),
    ("D", {"sampler": {"process": "flow", "grid": "flow_dynamic", "image_seq_len": 1.5}},
     "studies.tiny.sampler.image_seq_len = 1.5"),
    ("D", {"sampler": {"init": ["diffusers"], "scheme": ["annealed_langevin"], "process": "ve"}},
     "sampler.init must be standard or exact with scheme annealed_langevin"),
    ("D", {"sampler": {"scheme": ["dpmpp_2m_sde"], "eta": 0.5, "n_steps": [float("inf")]}},
     "sampler.eta must be 1 with scheme dpmpp_2m_sde and n_steps: inf"),
    ("D", {"sampler": {"process": "ve", "grid": "ays_svd", "scheme": ["euler"]}}, "sampler.grid ays_svd does not decrease"),
    ("D", {"sampler": {"eta": -0.5}}, "studies.tiny.sampler.eta = -0.5"),
    ("D", {"grid": {"sigma": [0.1]}}, "grid.sigma is not used by sampler.kind: diffusion"),
    ("D", {"fit": {"method": "sgd"}}, "fit.method must be exact, gradient_flow or gd with sampler.kind: diffusion"),
    ("D", {"fit": {"method": "gd", "train_time": [1.0]}}, "fit.lr must be > 0 with fit.method gd"),
    ("D", {"fit": {"method": "gradient_flow", "train_time": [1.0]}, "sampler": {"scheme": ["annealed_langevin"]}},
     "fit.method gradient_flow needs a time grid (not annealed_langevin)"),
    ("D", {"fit": {"method": "gradient_flow", "train_time": [1.0], "depth": 3}},
     "studies.tiny.fit.depth = 3: must be one of 1, 2"),
    ("D", {"fit": {"method": "gd", "lr": 0.01, "train_time": [1.0], "depth": 2}},
     "studies.tiny.fit.depth 2 needs fit.method gradient_flow"),
    ("D", {"fit": {"depth": 2}}, "studies.tiny.fit.depth 2 needs fit.method gradient_flow (its per-mode logistic"),
    ({"fit": {"depth": 2}}, {}, "studies.tiny.fit.depth 2 needs fit.method gradient_flow"),
    ("D", {"fit": {"method": "gradient_flow", "train_time": [1.0], "init_scale": 0.1}},
     "studies.tiny.fit.init_scale is only used by fit.depth 2"),
    ("D", {"fit": {"method": "gradient_flow", "train_time": [1.0], "depth": 2, "init": "identity"}},
     "studies.tiny.fit.init is only used by fit.depth 1"),
    ("D", {"fit": {"method": "gradient_flow", "train_time": [1.0], "depth": 2, "init_scale": 0}},
     "studies.tiny.fit.init_scale = 0: must be > 0"),
    ("D", {"fit": {"train_time": [1.0]}}, "fit.train_time is only used by fit.method gradient_flow or gd"),
    ("D", {"fit": {"method": "gradient_flow", "train_time": [1.0], "noise": "drawn"}},
     "fit.noise: drawn needs fit.method gd"),
    ("D", {"fit": {"method": "gd", "lr": 0.01, "train_time": [1.0], "noise": "drawn", "model": "diagonal"}},
     "fit.noise: drawn trains d x d denoisers: it needs fit.model full"),
    ("D", {"fit": {"method": "gd", "lr": 0.01, "train_time": [float("inf")], "noise": "drawn"}},
     "fit.noise: drawn needs a finite fit.train_time"),
    ("D", {"fit": {"method": "gd", "lr": 0.01, "init": "ones"}}, "studies.tiny.fit.init = 'ones': must be one of"),
    ({"fit": {"method": "gradient_flow"}}, {}, "fit.method gradient_flow trains the denoiser of every noise level"),
    ("D", {"fit": {"method": "gradient_flow", "train_time": [1.0]}, "panels": ["error_vs_nfe"]},
     "error_vs_nfe draws exact DSM scores"),
    ("D", {"sampler": {"friction": [1.0]}}, "sampler.friction is only used by sampler.kind: uld"),
    ({"sampler": {"scheme": ["em"]}}, {}, "sampler.scheme is only used by sampler.kind: diffusion"),
    ({"metrics": ["kl"]}, {}, "studies.tiny.metrics[0] = 'kl': must be one of w2, kl_sample_data, kl_data_sample"),
    ({"metrics": []}, {}, "studies.tiny.metrics = []: needs at least 1 item"),
    ({"metrics": ["w2", "w2"]}, {}, "studies.tiny.metrics"),
    ({"metrics": ["w2", "kl_sample_data"], "spectrum": {"kind": "custom", "d": 2, "values": [1.0, 0.0]}}, {},
     "studies.tiny.metrics: kl_sample_data is infinite for a spectrum with a zero eigenvalue"),
    ("D", {"fit": {"method": "gd", "lr": 0.01, "train_time": [1.0], "noise": "drawn"},
           "metrics": ["w2", "kl_data_sample"]}, "studies.tiny.metrics: kl_data_sample not available with fit.noise"),
]


def load(cfg, repo):
    """What the Snakefile does with a config: validate (filling defaults), then the package's plan."""
    validate(cfg, str(repo / "workflow" / "schemas" / "config.schema.yaml"))
    return Plan(cfg)


def test_the_tiny_config_is_valid(tiny_config, repo):
    plan = load(tiny_config(), repo)
    assert list(plan.studies) == ["tiny"] and plan.targets()


def diffusion_config(tiny_config, changes):
    cfg = tiny_config()
    st = cfg["studies"]["tiny"]
    st["grid"] = {"n_samples": [200]}
    st["sampler"] = {"kind": "diffusion", "scheme": ["em"], "n_steps": [50], "t_min": [0.001]}
    st["panels"] = []
    for k, v in changes.items():
        st[k].update(v) if k in st and isinstance(st[k], dict) else st.__setitem__(k, v)
    return cfg


@pytest.mark.parametrize("changes, top, key", BAD_CONFIGS)
def test_bad_config_is_rejected_with_the_key(tiny_config, repo, changes, top, key):
    cfg = diffusion_config(tiny_config, top) if changes == "D" else tiny_config(top, **changes)
    with pytest.raises(ConfigError) as err:
        load(cfg, repo)
    assert key in str(err.value), str(err.value)


def test_a_diffusion_study_is_accepted(tiny_config, repo):
    st = load(diffusion_config(tiny_config, {"sampler": {"scheme": ["em", "heun"], "init": ["standard", "exact"]},
                                             "panels": ["error_vs_nfe", "trajectory"]}), repo).studies["tiny"]
    assert st.fit_axes == {"n_samples": [200]}
    assert st.sampler_axes == {"scheme": ["em", "heun"], "init": ["standard", "exact"], "n_steps": [50.0],
                               "t_min": [0.001]}


def test_a_study_on_the_sd_table_and_on_flow_shifts_is_accepted(tiny_config, repo):
    """The libraries' schedules as study settings: diffusers' leading spacing on sd_discrete (its T set by each
    n_steps), its start law; SD3's shift on flow."""
    st = load(diffusion_config(tiny_config, {"sampler": {"process": "sd_discrete", "grid": "leading",
                                                         "scheme": ["ddim", "euler_ancestral"], "n_steps": [10, 25],
                                                         "init": ["diffusers", "k_diffusion"], "t_min": [0.0]}}),
              repo).studies["tiny"]
    assert st.sampler_axes["init"] == ["diffusers", "k_diffusion"]
    st = load(diffusion_config(tiny_config, {"sampler": {"process": "flow", "grid": "flow_shift", "shift": 3.0,
                                                         "scheme": ["euler"], "n_steps": [10], "t_min": [0.0]}}),
              repo).studies["tiny"]
    assert st.sampler_axes["scheme"] == ["euler"]


def test_comparisons_of_different_spectra_are_rejected(tiny_config, repo):
    cfg = tiny_config({"comparisons": {"c": {"panel": "full_vs_diagonal", "studies": ["tiny", "other"]}}})
    cfg["studies"]["other"] = {**cfg["studies"]["tiny"], "spectrum": {"kind": "power_law", "d": 5}}
    with pytest.raises(ConfigError, match="comparisons.c: full_vs_diagonal needs studies with the same spectrum"):
        load(cfg, repo)


def test_sampler_settings_and_the_population_score_are_accepted(tiny_config, repo):
    cfg = tiny_config(grid={"n_samples": [200, float("inf")], "gamma": [0.01, 0.02]},
                      sampler={"kind": "uld", "friction": [1.0, 2.0], "n_steps": [10, "inf", 1000000000000]},
                      spectrum={"kind": "custom", "d": 4, "values": [1.0, 0.5, 0.2, 0.0]})
    st = load(cfg, repo).studies["tiny"]
    assert st.grid["n_samples"] == [200, float("inf")]
    assert st.sampler_axes == {"gamma": [0.01, 0.02], "n_steps": [10.0, 1e12, float("inf")], "friction": [1.0, 2.0]}


# real-data spectra, the Fourier model and memory: (spectrum, other study changes, text of the message)
DATA_BAD = [
    ({"kind": "texture", "image": "nope.png"}, {}, "studies.tiny.spectrum.image: no such file 'nope.png'"),
    ({"kind": "texture", "image": "marble"}, {},
     "studies.tiny.spectrum.image 'marble' is neither a file nor a bundled"),
    ({"kind": "texture", "image": "brick", "side": 4096}, {}, "studies.tiny.spectrum.side = 4096 is larger than"),
    ({"kind": "texture", "image": "brick", "side": 1}, {}, "studies.tiny.spectrum.side = 1: must be >= 2"),
    ({"kind": "texture"}, {}, "studies.tiny.spectrum.image: missing (required)"),
    ({"kind": "texture", "image": "brick", "side": 8, "d": 65}, {}, "has 64 values but spectrum.d = 65"),
    ({"kind": "texture", "image": "brick", "side": 8, "alpha": 1.0}, {}, "does not take parameter(s) alpha"),
    ({"kind": "pca", "data": "mnist"}, {}, "studies.tiny.spectrum.data 'mnist' is neither a file nor a bundled"),
    ({"kind": "pca"}, {}, "studies.tiny.spectrum.data: missing (required)"),
    ({"kind": "power_law"}, {}, "studies.tiny.spectrum.d: missing (required)"),
    ({"kind": "power_law", "d": 4}, {"fit": {"model": "fourier"}}, "studies.tiny.fit.model: fourier (a convolutional"),
    ({"kind": "stationary_1d", "d": 8}, {"fit": {"model": "fourier"}, "montecarlo": {"draw": "wishart"}},
     "studies.tiny.montecarlo.draw must be modes (or auto) with fit.model: fourier"),
    ({"kind": "stationary_1d", "d": 8}, {"fit": {"model": "fourier", "method": "sgd"}, "grid": {"tau": [0.001]}},
     "studies.tiny.fit.method must be exact with fit.model: fourier"),
    ({"kind": "power_law", "d": 8}, {"montecarlo": {"draw": "modes"}}, "studies.tiny.montecarlo.draw: modes draws"),
    ({"kind": "stationary_2d", "d": 4900}, {"panels": ["kernel"]}, "studies.tiny.panels: kernel draws d x d matrices"),
    ({"kind": "power_law", "d": 3072}, {"montecarlo": {"n_replicates": 10, "mem_mb": 400}},
     "studies.tiny.montecarlo.mem_mb: a Monte-Carlo job of this study needs an estimated"),
    ({"kind": "power_law", "d": 3072}, {"montecarlo": {"mem_mb": 50}},
     "studies.tiny.montecarlo.mem_mb = 50: must be >= 100"),
]


@pytest.mark.parametrize("spectrum, changes, key", DATA_BAD)
def test_bad_data_config_is_rejected_with_the_key(tiny_config, repo, monkeypatch, tmp_path, spectrum, changes, key):
    monkeypatch.chdir(tmp_path)  # relative file names are looked up in the working directory
    cfg = tiny_config(**changes)
    cfg["studies"]["tiny"]["spectrum"] = spectrum
    with pytest.raises(ConfigError) as err:
        load(cfg, repo)
    assert key in str(err.value), str(err.value)


def test_data_spectra_are_accepted_and_their_files_are_inputs(tiny_config, repo, tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.chdir(tmp_path)
    np.save("faces.npy", np.random.default_rng(0).random((30, 4, 4)))
    cfg = tiny_config(fit={"model": "fourier"})
    cfg["studies"]["tiny"]["spectrum"] = {"kind": "texture", "image": "gravel", "side": 16}
    cfg["studies"]["pca"] = {**cfg["studies"]["tiny"], "spectrum": {"kind": "pca", "data": "faces.npy"},
                             "fit": {"model": "full"}}
    plan = load(cfg, repo)
    assert plan.studies["tiny"].spectrum.d == 256 and plan.studies["tiny"].draw == "modes"
    assert plan.studies["tiny"].spectrum_files == [] and plan.studies["pca"].spectrum_files == ["faces.npy"]
    assert plan.studies["pca"].spectrum.info["n_points"] == 30 and plan.studies["pca"].draw == "wishart"


def test_studies_that_do_not_run_are_not_read(tiny_config, repo, tmp_path, monkeypatch):
    """Checks (and the data they read) are for the studies that run: a broken study outside run_studies waits."""
    monkeypatch.chdir(tmp_path)
    cfg = tiny_config({"run_studies": ["tiny"]})
    cfg["studies"]["later"] = {**cfg["studies"]["tiny"], "spectrum": {"kind": "texture", "image": "missing.png"}}
    assert list(load(cfg, repo).run_studies) == ["tiny"]
    cfg["run_studies"] = ["later"]
    with pytest.raises(ConfigError, match="studies.later.spectrum.image: no such file"):
        load(cfg, repo)


def test_default_panels_follow_the_sampler_kind(tiny_config, repo):
    """Without ``panels`` a Langevin study draws P1 and a diffusion study P7 (error_vs_n needs Langevin), and each
    default passes the registry's check for that kind."""
    from gaussdsm.figures import PANELS

    lang = tiny_config()
    lang["studies"]["tiny"].pop("panels", None)
    diff = diffusion_config(tiny_config, {})
    diff["studies"]["tiny"].pop("panels", None)
    for cfg, want in ((lang, ["error_vs_n"]), (diff, ["error_vs_nfe"])):
        st = load(cfg, repo).studies["tiny"]
        assert st.panels == want
        assert all(PANELS[p].check(st.config) is None for p in want)


def test_yaml11_exponents_are_numbers(tiny_config, repo):
    """PyYAML (YAML 1.1) reads ``1e-3`` as text; where the schema wants a number it is read back as one, elsewhere
    (a name) text stays text and a real type error is still reported."""
    import yaml

    cfg = diffusion_config(tiny_config, {})
    cfg["studies"]["tiny"]["sampler"].update(yaml.safe_load("t_min: [1e-3, 1E-2]\nbeta_max: 2e1"))
    cfg["studies"]["tiny"]["grid"].update(yaml.safe_load("n_samples: [2e2]"))
    assert cfg["studies"]["tiny"]["sampler"]["t_min"] == ["1e-3", "1E-2"]  # what YAML 1.1 gives
    st = load(cfg, repo).studies["tiny"]
    assert st.config["sampler"]["t_min"] == [0.001, 0.01] and st.config["sampler"]["beta_max"] == 20.0
    assert st.config["grid"]["n_samples"] == [200.0]
    bad = diffusion_config(tiny_config, {})
    bad["studies"]["tiny"]["sampler"]["t_min"] = ["1e-3x"]
    with pytest.raises(ConfigError, match=r"t_min\[0\]"):
        load(bad, repo)
