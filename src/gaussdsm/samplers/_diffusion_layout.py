"""The layout shared by the diffusion schemes' coefficient builders and their compiled loops (no numba here).

Per step k of the reverse grid (:math:`t_k > t_{k+1}`, :math:`h_k = t_k - t_{k+1}`, midpoint :math:`t_k - h_k/2`), one row
of ``N_COLS`` coefficients, the columns named below.  The score coefficient at a time is
:math:`a = 1/(m^2\\mu + \\sigma^2)` and the probability-flow drift factor :math:`\\varphi = P_0 - P_1 a`
(:math:`P_0 = -f`, :math:`P_1 = g^2/2`).  Linear-family schemes step :math:`y \\leftarrow (A_0 - A_1 a(t_k))\\,y +
\\sqrt{\\text{NOISE}}\\,z`; annealed Langevin uses ``S2K`` (its level :math:`\\sigma_j^2`) and ``A0`` (its step
:math:`\\epsilon_j`).

``FAMILY`` values select the compiled loop (one branch-free loop per family: SIMD over the eigenvalues).
"""

M2K, S2K, M2N, S2N, M2M, S2M, A0, A1, H, P0K, P1K, P0N, P1N, P0M, P1M, NOISE = range(16)
N_COLS = 16

LINEAR, HEUN, RK4, ANNEALED = range(4)
"""Families: y <- (A0 - A1 a_k) y + noise (em, ei, ddpm, euler); Heun and RK4 on the probability-flow ODE; annealed
Langevin (L ULA steps per noise level)."""
