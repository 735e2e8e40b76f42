"""The real i-CLEVR's look, for renderer v4: floor brightness, object exposure and render noise, each a few numbers
fitted to measurements of the real training images (``benchmarks/calibrate_v4.py`` measures them and prints
them; no real image is stored here or anywhere in the package).

* **Floor**: the real floor (the per-pixel median of 2,000 first frames, 64x64, the central object masked out) is
  a smooth map: darker at the top, lighter at the bottom, a bright patch at the left. It is stored as a degree-8
  polynomial in normalised image coordinates ``u`` (left -1, right 1) and ``v`` (top -1, bottom 1) per RGB
  channel, in 8-bit sRGB levels: RMS residual 1.7 levels; the bright patch 131.7 against the real 133.4 (degree 5
  smoothed it to 128.8).
* **Objects**: matte rubber lit by CLEVR's lamps, then a straight line in sRGB levels (``TONE_SCALE * level +
  TONE_OFFSET``) fitted to the real objects' median colour per CLEVR colour: the real colours are greyer and
  dimmer (no object pixel above ~170 / 255). Shadows keep ``SHADOW_DEPTH`` of the darkening the lamps cast.
* **Noise**: Gaussian, ``SceneConfig.noise_sd`` levels per rendered pixel, one field per scene shared by its frames
  (the real frames of a scene share their background pixel for pixel).
"""

from __future__ import annotations

import functools

import numpy as np

F32 = np.float32
FLOOR_DEGREE = 8
# sRGB levels per channel (R, G, B) for the terms u**i * v**j in floor_terms order; fitted by calibrate_v4.py
FLOOR_COEFFICIENTS: tuple[tuple[float, ...], ...] = (
    (135.85, 3.20, -38.91, 139.63, 42.16, -235.71, -3.31, 115.35, -8.21, 4.58, 17.13, 45.29,
     -18.61, -89.77, 56.82, 55.31, -41.77, -13.45, 15.21, -35.65, -62.05, 112.88, 43.35, -72.14,
     -26.83, 15.60, 32.65, -39.15, -13.09, 16.72, -1.74, -5.66, 1.23, 3.03, -9.31, 21.20,
     -31.48, -18.06, 20.90, 11.80, 1.96, 2.85, -4.75, 12.31, -7.88),
    (135.19, 0.80, -40.53, 142.89, 45.21, -239.20, -7.95, 116.91, -5.63, 3.63, 16.94, 47.60,
     -24.24, -94.55, 66.96, 58.14, -47.01, -12.30, 16.69, -41.53, -63.32, 123.33, 43.23, -77.01,
     -27.01, 16.70, 34.09, -37.74, -13.96, 15.53, -1.34, -6.58, 2.29, 3.91, -11.79, 21.14,
     -33.86, -18.54, 20.97, 10.71, 2.23, 3.96, -4.31, 13.77, -7.51),
    (134.52, -3.72, -45.19, 153.55, 53.71, -256.12, -18.74, 125.88, -0.07, 0.56, 18.44, 58.70,
     -42.61, -115.69, 97.71, 70.60, -62.07, -9.76, 16.82, -54.00, -62.33, 147.46, 42.72, -91.47,
     -26.67, 15.31, 35.34, -32.63, -15.58, 10.19, 0.26, -4.80, 1.02, 2.20, -11.32, 21.50,
     -32.52, -18.67, 22.55, 7.31, 1.91, 5.98, -4.44, 12.28, -6.23),
)
TONE_SCALE, TONE_OFFSET = 0.463, 37.6  # object sRGB levels -> real: fitted over the 8 colours' median RGB
SHADOW_DEPTH = 0.5  # the real shadows are fainter than CLEVR's lamps make them: this share of the darkening stays


def floor_terms(deg: int = FLOOR_DEGREE) -> list[tuple[int, int]]:
    """The polynomial's exponent pairs ``(i, j)`` of ``u**i * v**j`` with ``i + j <= deg``, in a fixed order."""
    return [(i, j) for i in range(deg + 1) for j in range(deg + 1 - i)]


def grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised pixel-centre coordinates ``u, v``: two ``(height, width) float64`` arrays in (-1, 1)."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    return (u + 0.5) / width * 2 - 1, (v + 0.5) / height * 2 - 1


def fit_floor(floor: np.ndarray, keep: np.ndarray, deg: int = FLOOR_DEGREE) -> np.ndarray:
    """Least-squares polynomial of a measured floor: ``floor (3, H, W)`` levels, ``keep (H, W)`` bool (pixels to fit,
    e.g. without the central object). Returns ``(3, len(floor_terms(deg)))`` coefficients."""
    u, v = grid(floor.shape[2], floor.shape[1])
    design = np.stack([u[keep] ** i * v[keep] ** j for i, j in floor_terms(deg)], 1)
    return np.stack([np.linalg.lstsq(design, channel[keep], rcond=None)[0] for channel in floor.astype(np.float64)])


def floor_levels(width: int, height: int, coefficients: np.ndarray | None = None) -> np.ndarray:
    """The fitted floor at ``width x height``: ``(height, width, 3) float64`` sRGB levels (0-255)."""
    coefficients = np.asarray(FLOOR_COEFFICIENTS if coefficients is None else coefficients, dtype=np.float64)
    deg = round((np.sqrt(8 * coefficients.shape[1] + 1) - 3) / 2)
    u, v = grid(width, height)
    terms = np.stack([u**i * v**j for i, j in floor_terms(deg)], -1)
    return np.clip(terms @ coefficients.T, 0.0, 255.0)


@functools.lru_cache(maxsize=4)
def floor_linear(width: int, height: int) -> np.ndarray:
    """The fitted floor as linear RGB ``(height, width, 3) float32`` in [0, 1] (gamma 2.2, as the renderer's);
    cached, so read-only."""
    floor = ((floor_levels(width, height) / 255.0) ** 2.2).astype(F32)
    floor.flags.writeable = False
    return floor


def object_rgb(linear: np.ndarray) -> np.ndarray:
    """The real set's lower contrast on object pixels: linear RGB ``(n, 3)`` -> linear RGB ``(n, 3)`` through the
    fitted straight line in sRGB levels (the real colours are greyer and dimmer: yellow 138/132/65, not 255/238/51).
    """
    levels = 255.0 * np.clip(linear, 0.0, 1.0) ** (1 / 2.2)
    return ((F32(TONE_SCALE) * levels + F32(TONE_OFFSET)) / F32(255.0)) ** F32(2.2)
