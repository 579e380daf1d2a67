"""Spectra from data (gaussdsm.spectra): textures, PCA of data sets, files; their Fourier structure (kappa, pairs),
provenance, clipping and bad inputs."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from gaussdsm import spectra
from gaussdsm.spectra import data as sdata


def _circulant_cov_2d(x):
    """The covariance of the stationary model of one image: circular autocovariance of x - mean, as a matrix."""
    h, w = x.shape
    xc = x - x.mean()
    acov = np.real(np.fft.ifft2(np.abs(np.fft.fft2(xc)) ** 2)) / (h * w)
    i, j = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    i, j = i.ravel(), j.ravel()
    return acov[(i[:, None] - i[None, :]) % h, (j[:, None] - j[None, :]) % w]


def test_texture_is_the_spectrum_of_the_stationary_model(tmp_path, rng):
    """The periodogram of an image = the eigenvalues of the circulant covariance of its stationary (ADSN) model;
    their sum is the image's total squared deviation (Parseval); one exact zero (the mean)."""
    img = rng.random((6, 5))
    f = tmp_path / "img.npy"
    np.save(f, img)
    sp = spectra.spectrum("texture", image=str(f))
    cov = _circulant_cov_2d(img)
    np.testing.assert_allclose(cov, cov.T, atol=1e-14)
    np.testing.assert_allclose(sp.lam, np.sort(np.linalg.eigvalsh(cov))[::-1], atol=1e-12)
    np.testing.assert_allclose(sp.lam.sum(), ((img - img.mean()) ** 2).sum(), rtol=1e-12)
    assert np.sum(sp.lam == 0) == 1 and sp.d == 30
    assert sp.info["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest() and sp.info["shape"] == [6, 5, 1]


@pytest.mark.parametrize("shape, n_self", [((8, 8), 4), ((6, 5), 2), ((7,), 1), ((8,), 2)])
def test_fourier_modes_pair_conjugate_frequencies(shape, n_self, rng):
    """Self-conjugate frequencies (2 omega = 0 mod the grid) have kappa 2, every other direction kappa 1, and the two
    directions of a pair are adjacent and equal after sorting (so the Monte Carlo can share their multiplier)."""
    raw = spectra.fourier_modes(rng.random(shape))
    assert np.sum(raw.kappa == 2) == n_self and raw.kappa.size == np.prod(shape)
    sp = spectra.spectrum("custom", values=[1.0])  # the sorting is spectrum()'s: reuse it on a texture below
    assert sp.kappa is None
    img = rng.random(shape if len(shape) == 2 else shape + (1,))
    p = np.abs(np.fft.fftn(img - img.mean())) ** 2
    raw = spectra.fourier_modes(p.reshape(shape))
    order = np.argsort(-raw.lam, kind="stable")
    lam, kappa = raw.lam[order], raw.kappa[order]
    starts = spectra.pair_starts(kappa)
    np.testing.assert_array_equal(lam[starts], lam[starts + 1])
    assert starts.size * 2 + np.sum(kappa == 2) == lam.size


def test_stationary_kinds_carry_kappa_and_frequency():
    sp = spectra.spectrum("stationary_2d", 16, beta=1.0, omega0=0.5)
    assert sp.kappa is not None and np.sum(sp.kappa == 2) == 4 and sp.frequency.max() <= np.pi * np.sqrt(2)
    np.testing.assert_allclose(sp.lam, (1 + (sp.frequency / 0.5) ** 2) ** -1.0, rtol=1e-14)
    assert spectra.spectrum("power_law", 5).kappa is None


def test_bundled_textures_rgb_and_crop():
    grey = spectra.spectrum("texture", image="brick", side=32)
    assert grey.d == 32 * 32 and grey.info["bundled"] == "skimage.data.brick" and "scikit-image" in grey.info["package"]
    rgb = spectra.spectrum("texture", image="astronaut", side=16)
    assert rgb.d == 16 * 16 * 3 and np.sum(rgb.lam == 0) == 3  # one zero (the mean) per channel
    assert spectra.spectrum("texture", image="astronaut", side=16, grayscale=True).d == 256
    small = spectra.spectrum("texture", image="brick", side=32, resize=True)
    assert small.d == 1024 and not np.allclose(small.lam, grey.lam)


def test_pca_matches_scikit_learn_and_records_the_data():
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    sp = spectra.spectrum("pca", data="digits")
    ref = PCA().fit(load_digits().data / 16.0).explained_variance_
    np.testing.assert_allclose(sp.lam[: ref.size], np.sort(ref)[::-1], rtol=1e-9, atol=1e-12)
    assert sp.info["n_points"] == 1797 and sp.info["n_features"] == 64
    np.testing.assert_array_equal(sdata._digits(), load_digits().images)  # read without importing scikit-learn


def test_pca_with_fewer_points_than_dimensions(tmp_path, rng):
    """n < D: the squared singular values of the centred data, padded with zeros (rank n - 1)."""
    X = rng.standard_normal((5, 3, 4))
    f = tmp_path / "x.npy"
    np.save(f, X)
    sp = spectra.spectrum("pca", data=str(f), d=12)
    Xc = X.reshape(5, -1) - X.reshape(5, -1).mean(0)
    np.testing.assert_allclose(sp.lam, np.sort(np.clip(np.linalg.eigvalsh(Xc.T @ Xc / 4), 0, None))[::-1], atol=1e-12)
    assert np.sum(sp.lam < 1e-12) == 8 and sp.info["n_points"] == 5
    assert spectra.spectrum("pca", data="lfw_subset").d == 625


def test_round_off_negatives_are_clipped_and_recorded():
    sp = spectra.spectrum("custom", values=[1.0, 0.5, -1e-14])
    assert sp.lam[-1] == 0.0 and sp.info["clipped_negative"] == 1 and sp.info["clip_threshold"] == pytest.approx(1e-12)
    with pytest.raises(ValueError, match=r"spectrum\.values must be >= 0"):
        spectra.spectrum("custom", values=[1.0, -1e-11])


def test_spectrum_stage_writes_the_source(tmp_path):
    from gaussdsm import stages
    from gaussdsm.io import read_dataset

    f = tmp_path / "lam.npy"
    np.save(f, np.array([2.0, 1.0, 0.5]))
    stages.spectra({"kind": "custom", "file": str(f)}, out=tmp_path / "s.nc")
    ds = read_dataset(tmp_path / "s.nc")
    assert json.loads(ds.attrs["source_json"])["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    stages.spectra({"kind": "texture", "image": "grass", "side": 8}, out=tmp_path / "t.nc")
    t = read_dataset(tmp_path / "t.nc")
    assert {"lam", "kappa", "frequency"} <= set(t) and t["frequency"].attrs["units"] == "radian per pixel"
    assert json.loads(t.attrs["source_json"])["package"].startswith("scikit-image")


def _bad_files(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not an image")
    np.save(tmp_path / "nan.npy", np.array([[0.1, np.nan], [0.2, 0.3]]))
    np.save(tmp_path / "one.npy", np.ones((1, 4)))
    np.save(tmp_path / "lam.npy", np.array([1.0, np.inf]))
    return tmp_path


@pytest.mark.parametrize("kind, d, params, message", [
    ("texture", None, {"image": "broken.png"}, r"spectrum\.image 'broken\.png' is not a readable image"),
    ("texture", None, {"image": "nope.png"}, r"spectrum\.image: no such file 'nope\.png'"),
    ("texture", None, {"image": "marble"}, r"spectrum\.image 'marble' is neither a file nor a bundled image"),
    ("texture", None, {"image": "nan.npy"}, r"spectrum\.image 'nan\.npy' has non-finite pixel values"),
    ("texture", None, {"image": "brick", "side": 1024}, r"spectrum\.side = 1024 is larger than the image 'brick'"),
    ("texture", 100, {"image": "brick", "side": 16}, r"spectrum\.image \(brick\) has 256 values but spectrum\.d = 100"),
    ("texture", None, {}, r"needs spectrum\.image"),
    ("pca", None, {"data": "one.npy"}, r"spectrum\.data 'one\.npy' must hold at least 2 data points"),
    ("pca", None, {"data": "nan.npy"}, r"spectrum\.data 'nan\.npy' has non-finite values"),
    ("pca", None, {"data": "mnist"}, r"spectrum\.data 'mnist' is neither a file nor a bundled data set"),
    ("custom", None, {"file": "lam.npy"}, r"spectrum\.file \(lam\.npy\) must be finite"),
    ("power_law", None, {}, r"spectrum\.d is required"),
])
def test_bad_data_name_the_key_and_file(tmp_path, monkeypatch, kind, d, params, message):
    monkeypatch.chdir(_bad_files(tmp_path))
    with pytest.raises(ValueError, match=message):
        spectra.spectrum(kind, d, **params)


def test_a_new_source_is_one_function(monkeypatch):
    """Registering a function is all a new spectrum kind needs in the package (the schema lists the kinds)."""
    monkeypatch.setitem(spectra.SOURCES, "flat", spectra.SOURCES["power_law"].__class__(
        "flat", lambda d, level=1.0: spectra.Raw(np.full(d, float(level))), ("level",), True))
    np.testing.assert_array_equal(spectra.spectrum("flat", 3, level=2.0).lam, [2.0, 2.0, 2.0])


def test_schema_lists_every_source(repo):
    import yaml

    schema = yaml.safe_load((repo / "workflow" / "schemas" / "config.schema.yaml").read_text())
    kinds = schema["$defs"]["study"]["properties"]["spectrum"]["properties"]["kind"]["enum"]
    assert sorted(kinds) == sorted(spectra.SOURCES)
