r"""Diffusion models with a linear score (samplers.md §4–§5), one module per concern:

=================  ==========================================================================================
:mod:`.processes`  forward processes (vp, vp_cosine, vp_exp, ve, heat, edm, flow, sd_discrete): :math:`m_t^2`,
                   :math:`\sigma_t^2`, f, g², their inverses and closed forms
:mod:`.grids`      reverse time grids (uniform, geometric, edm, explicit)
:mod:`.schemes`    the reverse-time schemes, one module each: the scheme's ``step`` (its definition) and its record
:mod:`.steps`      what a step sees: times, the learned model at any time, noise, history; particles, linear forms
                   or matrix maps as the state
:mod:`.law`        the exact law of any scheme derived from its step; its particle chains
:mod:`.fast`       the optional compiled fast path (coefficients per step, :mod:`.kernels`, :mod:`.layout`)
:mod:`.sampler`    :class:`Diffusion`, one sampler setting, and its variance map
=================  ==========================================================================================

How the score of each level is learned (exactly, or trained for a finite time) is
:class:`gaussdsm.dsm.Training`.  A new scheme is one module in :mod:`.schemes` and one line of its registry.
"""

from ...dsm import Training
from .grids import GRIDS, time_grid
from .law import particles
from .processes import DEFAULT_T, PROCESSES, Process, make_process
from .sampler import BLOWUP, DEFAULTS, FIXED_PARAMS, START_LAWS, Diffusion, compatible
from .schemes import SCHEMES, Scheme, scheme_record

__all__ = ["Diffusion", "Process", "make_process", "compatible", "Training", "Scheme", "scheme_record", "time_grid",
           "particles", "PROCESSES", "SCHEMES", "GRIDS", "START_LAWS", "EVALS", "ORDER", "BLOWUP", "DEFAULT_T", "DEFAULTS",
           "FIXED_PARAMS"]

#: score evaluations per step
EVALS = {n: s.evals for n, s in SCHEMES.items() if s.evals is not None}
#: order p of the discretization error, W_2 = O(K^-p) from the exact initialisation (annealed Langevin: none)
ORDER = {n: s.order for n, s in SCHEMES.items() if s.order is not None}
