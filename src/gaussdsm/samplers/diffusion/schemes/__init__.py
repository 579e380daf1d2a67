"""The reverse-time schemes (``sampler.scheme``), one module each: its ``step`` (the definition, as k-diffusion writes
a sampler) and its :class:`~.record.Scheme` record.  A new scheme is one module and one line of :data:`SCHEME_LIST`.
"""

from . import (annealed_langevin, ddim, ddpm, dpm_2, dpm_2_ancestral, dpmpp_2m, dpmpp_2m_sde, dpmpp_2s_ancestral,
               dpmpp_3m_sde, dpmpp_sde, ei, em, euler, euler_ancestral, heun, heun_churn, ipndm, k_churn, lms, rk4,
               deis, deis_logrho, uni_pc, unipc)
from .record import FastPath, Scheme

__all__ = ["Scheme", "FastPath", "SCHEMES", "scheme_record"]

SCHEME_LIST = (
    em.SCHEME,
    ei.SCHEME,
    ddpm.SCHEME,
    euler.SCHEME,
    ddim.SCHEME,
    heun.SCHEME,
    rk4.SCHEME,
    dpm_2.SCHEME,
    dpmpp_2m.SCHEME,
    heun_churn.SCHEME,
    annealed_langevin.SCHEME,
    euler_ancestral.SCHEME,
    ipndm.SCHEME,
    k_churn.EULER,
    k_churn.HEUN,
    k_churn.DPM_2,
    dpm_2_ancestral.SCHEME,
    dpmpp_2s_ancestral.SCHEME,
    dpmpp_sde.SCHEME,
    dpmpp_2m_sde.SCHEME,
    dpmpp_2m_sde.SCHEME_HEUN,
    dpmpp_3m_sde.SCHEME,
    lms.SCHEME,
    uni_pc.SCHEME,
    uni_pc.SCHEME_BH2,
    deis.SCHEME,
    unipc.BH1,
    unipc.BH2,
    unipc.BH1_3,
    unipc.BH2_3,
    deis_logrho.SCHEME,
    deis_logrho.SCHEME_3,
)
SCHEMES: dict[str, Scheme] = {s.name: s for s in SCHEME_LIST}
"""The reverse schemes by config name (``sampler.scheme``)."""


def scheme_record(name: str) -> Scheme:
    """The record of scheme ``name``; an unknown name raises (naming the known ones)."""
    try:
        return SCHEMES[name]
    except (KeyError, TypeError):
        raise ValueError(f"sampler.scheme must be one of {', '.join(SCHEMES)}; got {name!r}") from None
