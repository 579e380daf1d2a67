"""The compiled normal generator of the SGD engine (gaussdsm.ziggurat) and the compiled BLAS calls (gaussdsm._blas)."""

import math

import numpy as np
import pytest
from scipy import special, stats

from gaussdsm._blas import gemm, syrk
from gaussdsm.ziggurat import ZIGGURAT_R, NormalStream, normals_from_words, ziggurat_tables


def test_words_are_numpys_sfc64():
    seq = np.random.SeedSequence(2024)
    s = NormalStream(seq)
    ref = np.random.SFC64(np.random.SeedSequence(2024))
    assert np.array_equal(s.random_raw(1000), ref.random_raw(1000))
    assert np.array_equal(s.random_raw(7), ref.random_raw(7))  # the state carries over


def test_same_numbers_as_numpy_standard_normal_from_the_same_words():
    """Fed PCG64's words, the ziggurat gives numpy's standard_normal to rounding of the tables and
    consumes exactly the same words: every branch (rectangles, wedges, tail) took the same decision."""
    n = 1_000_000
    words = np.random.PCG64(11).random_raw(int(n * 1.05))
    x, used = normals_from_words(words, n)
    ref = np.random.Generator(np.random.PCG64(11)).standard_normal(n)
    assert np.max(np.abs(x - ref) / np.maximum(1.0, np.abs(ref))) < 1e-13
    assert np.sum(np.abs(ref) > ZIGGURAT_R) > 100  # the tail branch ran (P(|x| > r) = 2.6e-4)
    assert used > n  # wedge and tail tries consumed extra words ...
    g = np.random.Generator(np.random.PCG64(11))
    g.standard_normal(n)
    bg = np.random.PCG64(11)
    bg.advance(used)
    assert bg.state == g.bit_generator.state  # ... exactly as many as numpy's


def test_words_running_out_is_an_error():
    with pytest.raises(ValueError, match="not enough"):
        normals_from_words(np.random.PCG64(1).random_raw(10), 20)


def test_sequence_does_not_depend_on_chunking():
    a = NormalStream(5)
    parts = [a.standard_normal(3), a.standard_normal((4, 5)).ravel(), a.standard_normal(1)]
    b = NormalStream(5).standard_normal(24)
    assert np.array_equal(np.concatenate(parts), b)


def test_tables_define_a_ziggurat():
    """Equal-area layers: x_i (φ(x_{i-1}) - φ(x_i)) = v for the inner rectangles, the top layer closes
    (x_1 (1 - φ(x_1)) = v) and the base strip has area v; ki/wi/fi are consistent with the x_i."""
    ki, wi, fi = ziggurat_tables()
    r = ZIGGURAT_R
    v = r * math.exp(-r * r / 2) + math.sqrt(math.pi / 2) * special.erfc(r / math.sqrt(2))
    x = wi * 2.0**52  # x[i], i = 1..255; x[255] = r
    assert x[255] == pytest.approx(r, rel=1e-15)
    phi = np.exp(-0.5 * x**2)
    assert np.allclose(fi[1:], phi[1:], rtol=1e-15, atol=0)
    areas = x[2:] * (phi[1:-1] - phi[2:])  # layer i >= 2: width x_i, height φ(x_{i-1}) - φ(x_i)
    assert np.allclose(areas, v, rtol=1e-12, atol=0)
    assert x[1] * (1 - phi[1]) == pytest.approx(v, rel=1e-10)  # top layer: recursion closes at the mode
    assert wi[0] * 2.0**52 * math.exp(-r * r / 2) == pytest.approx(v, rel=1e-15)  # base strip incl. tail
    ratio = np.floor(x[1:-1] / x[2:] * 2.0**52)  # ki[i] = floor(2^52 x_{i-1} / x_i)
    assert np.all(np.abs(ki[2:] - ratio) <= 1)
    assert ki[1] == 0 and ki[0] == np.floor(r * math.exp(-r * r / 2) / v * 2.0**52)


def test_distribution_moments_tail_and_ks():
    """Fixed seed, n = 2e6; every tolerance is 5 standard errors of the statistic (or a KS critical value)."""
    n = 2_000_000
    x = NormalStream(np.random.SeedSequence(77)).standard_normal(n)
    assert abs(x.mean()) < 5 / math.sqrt(n)
    assert abs(x.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(np.mean(x**4) - 3) < 5 * math.sqrt(96 / n)  # Var(x^4) = 105 - 9
    p_tail = special.erfc(ZIGGURAT_R / math.sqrt(2))
    tail = np.mean(np.abs(x) > ZIGGURAT_R)
    assert abs(tail - p_tail) < 5 * math.sqrt(p_tail / n)
    beyond_4 = np.mean(x > 4.0)  # deep in the tail algorithm
    p4 = 0.5 * special.erfc(4 / math.sqrt(2))
    assert abs(beyond_4 - p4) < 5 * math.sqrt(p4 / n)
    res = stats.kstest(x[:200_000], "norm")
    assert res.pvalue > 1e-4
    # the sign is symmetric within each magnitude band
    assert abs(np.mean(x[np.abs(x) > 2] > 0) - 0.5) < 5 * 0.5 / math.sqrt(np.sum(np.abs(x) > 2))


def _fortran(a):
    return np.asfortranarray(a).ravel(order="F")


def test_compiled_gemm_and_syrk_with_leading_dimensions():
    """gemm/syrk on sub-matrices addressed through offsets and leading dimensions, against numpy."""
    rng = np.random.default_rng(0)
    big = rng.standard_normal((9, 6))  # column-major buffer, ld = 9
    A = big[2:7, 0:4]  # 5 x 4 block at row offset 2
    Bm = rng.standard_normal((3, 4))
    C = rng.standard_normal((5, 3))
    c = _fortran(C)
    buf = _fortran(big)
    gemm(ord("N"), ord("T"), 5, 3, 4, 2.0, buf[2:], 9, _fortran(Bm), 3, 0.5, c, 5)
    assert np.allclose(c.reshape(3, 5).T, 2.0 * A @ Bm.T + 0.5 * C, rtol=1e-14, atol=1e-14)

    # upper triangle of 1.5 A^T A - C2 (A^T: 4 x 5 from the same sub-matrix); the lower one is untouched
    C2 = rng.standard_normal((4, 4))
    c2 = _fortran(C2)
    syrk(ord("U"), ord("T"), 4, 5, 1.5, buf[2:], 9, -1.0, c2, 4)
    got = c2.reshape(4, 4).T
    want = 1.5 * A.T @ A - C2
    iu, il = np.triu_indices(4), np.tril_indices(4, -1)
    assert np.allclose(got[iu], want[iu], rtol=1e-14, atol=1e-14)
    assert np.array_equal(got[il], C2[il])


def test_running_out_inside_the_tail_is_an_error_not_a_hang():
    """A word that starts a tail try (layer 0, abscissa beyond ki[0]) as the last word available."""
    tail_word = np.uint64((0xFFFFFFFFFFFFF << 9) | 0)  # layer 0, sign 0, largest abscissa
    for words in ([tail_word], [np.uint64(5 << 9 | 7), tail_word]):
        with pytest.raises(ValueError, match="not enough"):
            normals_from_words(np.array(words, dtype=np.uint64), len(words))
