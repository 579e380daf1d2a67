r"""The layout shared by the diffusion schemes' coefficient builders and their compiled loops (no numba here).

Per step k of the reverse grid (:math:`t_k > t_{k+1}`, :math:`h_k = t_k - t_{k+1}`), one row of ``N_COLS``
coefficients, the columns named below.  The score coefficient at a time is :math:`a = 1/(m^2\mu + \sigma^2)` and the
probability-flow drift factor, :math:`dy/d(-t) = \varphi\,y`, is written as a ratio of affine functions of
:math:`\mu`, :math:`\varphi = (Q_0\mu + Q_1)\,a` with :math:`Q_0 = -m\dot m`, :math:`Q_1 = -\sigma\dot\sigma`
(:math:`\varphi = -\tfrac12\dot\lambda_t/\lambda_t`, :math:`\lambda_t = m_t^2\mu + \sigma_t^2`), which stays finite
where the signal scale vanishes (flow matching at t = 1).

Columns, by the time they are taken at: ``M2K, S2K, Q0K, Q1K`` at :math:`t_k` (heun_churn: at its raised time
:math:`\hat t_k`); ``M2N, S2N, Q0N, Q1N`` at :math:`t_{k+1}`; ``M2M, S2M, Q0M, Q1M`` at the step's intermediate time
(rk4: :math:`t_k - h/2`; dpm_2: the midpoint in log-SNR); ``M2P, S2P`` at the previous time :math:`t_{k-1}`
(multistep).  ``TK, TN, TM, TP``: those four times themselves (a trained score is evaluated there,
:mod:`gaussdsm.samplers.diffusion`).  ``H`` the step (heun_churn: :math:`\hat t_k - t_{k+1}`).

Per family:

* ``LINEAR`` (em, ei, ddpm, euler, ddim): :math:`y \leftarrow (A_0 - (A_1 - A_2\mu)\,a(t_k))\,y + \sqrt{\text{NOISE}}\,z`;
* ``HEUN`` (heun, heun_churn): :math:`y \leftarrow \alpha\,(y + \sqrt{\text{PRE}}\,z)`, Heun's factor α from
  :math:`\varphi` at ``K`` and ``N``;
* ``RK4``: the classical Runge-Kutta factor from :math:`\varphi` at ``K``, ``M`` and ``N``;
* ``DPM2`` (DPM-Solver-2): :math:`y \leftarrow (A_0 - A_1 a(s)(U_0\mu + U_1)a(t_k))\,y` (s: the ``M`` columns);
* ``MULTISTEP`` (DPM-Solver++(2M)): :math:`y_{k+1} = (A_0 + A_1\mu a(t_k))\,y_k + A_2\mu a(t_{k-1})\,y_{k-1}`;
* ``ANNEALED`` (annealed Langevin): ``S2K`` its level :math:`\sigma_j^2`, ``A0`` its step :math:`\epsilon_j`.

``FAMILY`` values select the compiled loop (one branch-free loop per family: SIMD over the eigenvalues).
"""

(M2K, S2K, M2N, S2N, M2M, S2M, A0, A1, H, Q0K, Q1K, Q0N, Q1N, Q0M, Q1M, NOISE,
 A2, U0, U1, PRE, M2P, S2P, TK, TN, TM, TP) = range(26)
N_COLS = 26

LINEAR, HEUN, RK4, ANNEALED, DPM2, MULTISTEP = range(6)
"""Families (module docstring)."""
