"""Spectra estimated from data: textures (stationary Gaussian model of an image), PCA of data sets, eigenvalue files.

Data come from a file (its name and sha256 are recorded) or by name from what scikit-image and scikit-learn ship in
their packages (the bundled name, the package version and the sha256 of the array are recorded): nothing is
downloaded.  Pixel values are in [0, 1] (integer images divided by their type's maximum; float images as they are).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .._gram import xtx
from . import Raw, fourier_modes, source

#: images of ``skimage.data`` shipped in the scikit-image package (no download), usable as ``texture.image``
BUNDLED_IMAGES = ("brick", "grass", "gravel", "camera", "moon", "coins", "text", "page", "clock", "astronaut",
                  "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field", "retina")
#: data sets shipped in a package, usable as ``pca.data``: name -> the package that ships it
BUNDLED_DATA = {"digits": "scikit-learn", "lfw_subset": "scikit-image"}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _array_sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=float).tobytes()).hexdigest()


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def is_file_name(name: str) -> bool:
    return any(c in name for c in "/\\") or Path(name).suffix != ""


def _existing(key: str, name: str) -> Path:
    path = Path(name)
    if not path.is_file():
        raise ValueError(f"{key}: no such file {name!r}")
    return path


def _as_float_image(img: np.ndarray) -> np.ndarray:
    from skimage.util import img_as_float

    img = np.asarray(img)
    if img.dtype == bool:
        return img.astype(float)
    return np.asarray(img_as_float(img), dtype=float)


def load_image(name: str) -> tuple[np.ndarray, dict]:
    """An image, shape ``(h, w)`` or ``(h, w, c)``, values in [0, 1]: a file (PNG, JPEG, BMP, GIF read with imageio's
    Pillow plugin, TIFF with tifffile; or an ``.npy`` array) or a name of :data:`BUNDLED_IMAGES`.  Returns ``(image, info)``."""
    key = "spectrum.image"
    if is_file_name(name):
        path = _existing(key, name)
        try:
            if path.suffix == ".npy":
                img = np.load(path, allow_pickle=False)
            else:
                import imageio.v3 as iio

                img = iio.imread(path, plugin="tifffile" if path.suffix.lower() in (".tif", ".tiff") else "pillow")
        except Exception as err:  # noqa: BLE001 - any reader failure is an unreadable file
            raise ValueError(f"{key} {name!r} is not a readable image: {err}") from None
        info = {"image": str(path), "sha256": sha256(path)}
    else:
        if name not in BUNDLED_IMAGES:
            raise ValueError(f"{key} {name!r} is neither a file nor a bundled image; bundled: {', '.join(BUNDLED_IMAGES)}")
        import skimage.data

        img = getattr(skimage.data, name)()
        info = {"image": name, "bundled": f"skimage.data.{name}", "package": f"scikit-image {_version('scikit-image')}"}
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[-1] == 4:  # RGBA: drop alpha
        img = img[..., :3]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[-1] != 3) or min(img.shape[:2]) < 2:
        raise ValueError(f"{key} {name!r} must be a 2-D grey or RGB(A) image of at least 2 x 2 pixels; "
                         f"got an array of shape {img.shape}")
    img = _as_float_image(img)
    if not np.all(np.isfinite(img)):
        raise ValueError(f"{key} {name!r} has non-finite pixel values")
    info["array_sha256"] = _array_sha256(img)
    return img, info


def _square(img: np.ndarray, side: int | None, resize: bool, name: str) -> np.ndarray:
    if side is None:
        return img
    h, w = img.shape[:2]
    if resize:
        m = min(h, w)
        if side > m:
            raise ValueError(f"spectrum.side = {side} is larger than the image {name!r} ({h} x {w}): resizing only "
                             "shrinks")
        top, left = (h - m) // 2, (w - m) // 2
        img = img[top:top + m, left:left + m]
        if side == m:
            return img
        from skimage.transform import resize as _resize

        return _resize(img, (side, side) + img.shape[2:], anti_aliasing=True, preserve_range=True)
    if side > h or side > w:
        raise ValueError(f"spectrum.side = {side} is larger than the image {name!r} ({h} x {w}): the crop needs "
                         f"side <= {min(h, w)} (or resize: true)")
    top, left = (h - side) // 2, (w - side) // 2
    return img[top:top + side, left:left + side]


@source("texture", ("image", "side", "resize", "grayscale"), required=("image",))
def texture(d, image, side=None, resize=False, grayscale=False) -> Raw:
    """The stationary Gaussian texture model of an image (ADSN): per DFT frequency and channel the periodogram
    :math:`P(\\omega) = |\\mathrm{FFT}(x - \\bar x)(\\omega)|^2 / n` of the mean-subtracted image (``n = h w`` pixels,
    values in [0, 1]), so that :math:`\\sum_\\omega P = \\sum_{\\text{pixels}}(x - \\bar x)^2`; ``d = h w c``.

    Channels are independent in this model (each has its own periodogram; the ADSN cross-channel correlation is not
    kept).  The mean frequency :math:`\\omega = 0` has :math:`P = 0` exactly (the mean is subtracted): one zero
    eigenvalue per channel.

    Parameters
    ----------
    image : str
        A file (PNG/JPEG/TIFF/..., or ``.npy``) or a bundled scikit-image name (:data:`BUNDLED_IMAGES`).
    side : int, optional
        Centre crop to ``side x side`` pixels (``resize``: crop the largest centred square, then shrink it to
        ``side`` with anti-aliasing).
    grayscale : bool
        Convert an RGB image to luminance (scikit-image ``rgb2gray``) first.
    """
    img, info = load_image(str(image))
    if side is not None:
        from .. import _checks

        side = _checks.integer("spectrum.side", side, ge=2)
    if grayscale and img.ndim == 3:
        from skimage.color import rgb2gray

        img = rgb2gray(img)
    img = _square(img, side, bool(resize), str(image))
    x = img if img.ndim == 3 else img[..., None]
    h, w, c = x.shape
    x = x - x.mean(axis=(0, 1), keepdims=True)
    P = np.abs(np.fft.fft2(x, axes=(0, 1))) ** 2 / (h * w)
    P[0, 0, :] = 0.0  # the mean is subtracted: exactly zero, not round-off
    raw = fourier_modes(P, channels_last=True)
    info.update(shape=[h, w, c], side=side, resize=bool(resize), grayscale=bool(grayscale),
                pixel_values="[0, 1]", where=f"spectrum.image ({image})")
    return Raw(raw.lam, raw.frequency, raw.kappa, info, raw.position, raw.grid)


def _digits() -> np.ndarray:
    """scikit-learn's digits images ``(1797, 8, 8)``, values 0..16, as ``sklearn.datasets.load_digits().images``,
    read from the file scikit-learn ships without importing scikit-learn (~1 s, paid at every workflow parse)."""
    from importlib.util import find_spec

    spec = find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("spectrum.data 'digits' needs scikit-learn (pip install scikit-learn)")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    data = np.loadtxt(path, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8)


def load_data(name: str) -> tuple[np.ndarray, dict]:
    """A data set as an array ``(n, D)``: an ``.npy`` file of shape ``(n, ...)`` or a name of :data:`BUNDLED_DATA`
    (``digits``: scikit-learn's 1797 images of 8 x 8, values divided by 16; ``lfw_subset``: scikit-image's 200
    faces of 25 x 25 in [0, 1])."""
    key = "spectrum.data"
    if is_file_name(name):
        path = _existing(key, name)
        try:
            X = np.load(path, allow_pickle=False)
            X = np.asarray(X, dtype=float)
        except (ValueError, OSError, TypeError) as err:
            raise ValueError(f"{key} {name!r} is not a readable .npy array of numbers: {err}") from None
        info = {"data": str(path), "sha256": sha256(path)}
    elif name == "digits":
        X = _digits() / 16.0
        info = {"data": name, "bundled": "sklearn.datasets.load_digits", "package": f"scikit-learn {_version(BUNDLED_DATA[name])}"}
    elif name == "lfw_subset":
        import skimage.data

        X = skimage.data.lfw_subset()
        info = {"data": name, "bundled": "skimage.data.lfw_subset", "package": f"scikit-image {_version(BUNDLED_DATA[name])}"}
    else:
        raise ValueError(f"{key} {name!r} is neither a file nor a bundled data set; bundled: {', '.join(BUNDLED_DATA)}")
    X = np.asarray(X, dtype=float)
    if X.ndim < 2 or X.shape[0] < 2:
        raise ValueError(f"{key} {name!r} must hold at least 2 data points along its first axis; got shape {X.shape}")
    X = X.reshape(X.shape[0], -1)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{key} {name!r} has non-finite values")
    info["array_sha256"] = _array_sha256(X)
    return X, info


@source("pca", ("data",), required=("data",))
def pca(d, data) -> Raw:
    """Eigenvalues of the empirical covariance :math:`\\frac1{n-1}\\sum_j (x_j - \\bar x)(x_j - \\bar x)^\\top` of a data
    set of ``n`` points of dimension ``D = d`` (scikit-learn's PCA convention): ``eigvalsh`` of the ``D x D``
    covariance if ``D <= n``, else the squared singular values of the centred ``n x D`` data, padded with ``D - n + 1``
    zeros (rank ``<= n - 1``).  The number of data points is recorded: it limits what the spectrum can say."""
    X, info = load_data(str(data))
    n, D = X.shape
    Xc = X - X.mean(axis=0)
    if D <= n:
        lam = np.linalg.eigvalsh(xtx(Xc) / (n - 1))  # not Xc.T @ Xc: dsyrk crashes for large D (gaussdsm._gram)
    else:
        s = np.linalg.svd(Xc, compute_uv=False)
        lam = np.concatenate([s**2 / (n - 1), np.zeros(D - s.size)])
    info.update(n_points=int(n), n_features=int(D), where=f"spectrum.data ({data})")
    return Raw(lam, info=info)


def _read_spectrum_file(path: Path) -> np.ndarray:
    if path.suffix in (".nc", ".nc4", ".cdf"):
        import xarray as xr

        try:
            with xr.open_dataset(path, engine="netcdf4") as ds:
                if "lam" not in ds:
                    raise ValueError(f"spectrum.file {str(path)!r} has no variable 'lam'")
                return np.asarray(ds["lam"].values, dtype=float).ravel()
        except OSError as err:
            raise ValueError(f"spectrum.file {str(path)!r} is not a readable NetCDF file: {err}") from None
    if path.suffix == ".npy":
        try:
            return np.asarray(np.load(path, allow_pickle=False), dtype=float).ravel()
        except (ValueError, OSError, TypeError) as err:
            raise ValueError(f"spectrum.file {str(path)!r} is not a readable .npy array of numbers: {err}") from None
    try:
        return np.loadtxt(path, dtype=float, ndmin=1).ravel()
    except ValueError as err:
        raise ValueError(f"spectrum.file {str(path)!r} is not a list of numbers: {err}") from None


@source("custom", ("values", "file"))
def custom(d, values=None, file=None) -> Raw:
    """Eigenvalues given as ``values`` (a list) or in a ``file``: text (one value per line or whitespace separated),
    ``.npy``, or NetCDF with a variable ``lam``; ``>= 0`` (zeros: a rank-deficient covariance)."""
    if (values is None) == (file is None):
        raise ValueError("spectrum kind 'custom' needs exactly one of spectrum.values or spectrum.file")
    if file is not None:
        path = _existing("spectrum.file", str(file))
        return Raw(_read_spectrum_file(path), info={"file": str(path), "sha256": sha256(path),
                                                     "where": f"spectrum.file ({file})"})
    try:
        lam = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"spectrum.values must be a list of numbers, got {values!r}") from None
    return Raw(lam, info={"where": "spectrum.values"})

