import numpy as np
import pytest
import scipy.linalg

from gaussdsm.spectra import spectrum


def test_power_law_values():
    lam = spectrum("power_law", 5, alpha=1.5, scale=2.0).lam
    np.testing.assert_allclose(lam, 2.0 * np.arange(1, 6) ** -1.5)


@pytest.mark.parametrize("kind, d, params", [
    ("power_law", 17, {"alpha": 0.7}),
    ("stationary_1d", 32, {"beta": 1.5, "omega0": 0.3}),
    ("stationary_2d", 64, {"beta": 1.0, "omega0": 0.5}),
    ("custom", 3, {"values": [0.5, 2.0, 1.0]}),
])
def test_sorted_positive(kind, d, params):
    lam = spectrum(kind, d, **params).lam
    assert lam.shape == (d,)
    assert np.all(lam > 0)
    assert np.all(np.diff(lam) <= 0)


def _circulant_autocov(lam_fft):
    # autocovariance = inverse DFT of the power spectrum (real and even)
    return np.real(np.fft.ifft(lam_fft))


def test_stationary_1d_is_circulant_spectrum():
    """The 1-D stationary spectrum equals the eigenvalues of the circulant covariance it defines."""
    d, beta, omega0 = 24, 1.3, 0.4
    omega = 2 * np.pi * np.fft.fftfreq(d)
    P = (1 + (omega / omega0) ** 2) ** -beta
    cov = scipy.linalg.circulant(_circulant_autocov(P))
    np.testing.assert_allclose(cov, cov.T, atol=1e-14)
    eig = np.sort(np.linalg.eigvalsh(cov))[::-1]
    np.testing.assert_allclose(spectrum("stationary_1d", d, beta=beta, omega0=omega0).lam, eig, rtol=1e-10)
    # the Fourier basis diagonalises it
    F = np.fft.fft(np.eye(d)) / np.sqrt(d)
    D = F @ cov @ F.conj().T
    np.testing.assert_allclose(D, np.diag(np.diag(D)), atol=1e-12)


def test_stationary_2d_is_block_circulant_spectrum():
    side, beta, omega0 = 5, 1.0, 0.5
    wx = 2 * np.pi * np.fft.fftfreq(side)
    P = (1 + (wx[:, None] ** 2 + wx[None, :] ** 2) / omega0**2) ** -beta
    acov = np.real(np.fft.ifft2(P))
    idx = np.arange(side)
    # cov[(i1,j1),(i2,j2)] = acov[(i1-i2) mod side, (j1-j2) mod side]
    cov = acov[(idx[:, None, None, None] - idx[None, None, :, None]) % side,
               (idx[None, :, None, None] - idx[None, None, None, :]) % side].reshape(side**2, side**2)
    eig = np.sort(np.linalg.eigvalsh(cov))[::-1]
    np.testing.assert_allclose(spectrum("stationary_2d", side**2, beta=beta, omega0=omega0).lam, eig, rtol=1e-10)


def test_custom_file(tmp_path):
    f = tmp_path / "lam.txt"
    f.write_text("1.0\n0.25\n0.5\n")
    np.testing.assert_allclose(spectrum("custom", 3, file=str(f)).lam, [1.0, 0.5, 0.25])


@pytest.mark.parametrize("kind, d, params, key", [
    ("nope", 4, {}, "spectrum.kind"),
    ("power_law", 0, {}, "spectrum.d"),
    ("power_law", 4, {"alpha": -1}, "spectrum.alpha"),
    ("power_law", 4, {"scale": 0}, "spectrum.scale"),
    ("stationary_1d", 4, {"omega0": 0}, "spectrum.omega0"),
    ("stationary_1d", 4, {"beta": -0.5}, "spectrum.beta"),
    ("stationary_2d", 10, {}, "spectrum.d"),
    ("custom", 2, {"values": [1.0, -1.0]}, "spectrum.values"),
    ("custom", 3, {"values": [1.0, 2.0]}, "spectrum.values"),
    ("custom", 3, {}, "spectrum.values"),
    ("power_law", 4, {"beta": 1.0}, "beta"),
])
def test_bad_parameters_name_the_key(kind, d, params, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        spectrum(kind, d, **params).lam
