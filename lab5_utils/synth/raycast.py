"""Analytic ray casting for the synthetic i-CLEVR renderer: a pinhole camera and cube / sphere / capped cylinder.

All arrays are float32. Rays are given component-wise (``ox, oy, oz, dx, dy, dz``, any broadcastable shapes) so
that a constant direction (a light) can be passed as a scalar. Objects rest on the ground plane ``z = 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

F32 = np.float32
INF = np.float32(np.inf)
Arr = np.ndarray | np.float32 | float  # a float32 array, or a scalar broadcast against one


@dataclass(frozen=True)
class Obj:
    """One object: ``radius`` is CLEVR's size r; the centre is ``(x, y, z)`` with z its half-height.

    Cube half-side r/sqrt(2), sphere radius r, cylinder radius r and height 2r; ``theta`` is the z rotation (rad).
    """

    shape: str
    color: str
    material: str
    size: str
    radius: float
    x: float
    y: float
    theta: float

    @property
    def half_height(self) -> float:
        return self.radius / math.sqrt(2.0) if self.shape == "cube" else self.radius

    @property
    def z(self) -> float:
        return self.half_height

    @property
    def bound(self) -> float:
        """Radius of a sphere around the centre that contains the object."""
        if self.shape == "cube":
            return self.half_height * math.sqrt(3.0)
        return self.radius * (1.0 if self.shape == "sphere" else math.sqrt(2.0))

    @property
    def label(self) -> str:
        return f"{self.color} {self.shape}"


@dataclass(frozen=True)
class Camera:
    """Pinhole camera at ``position`` looking at ``target`` (z up) with horizontal field of view ``fov_deg``."""

    position: tuple[float, float, float]
    target: tuple[float, float, float]
    fov_deg: float
    width: int
    height: int

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit (forward, right, up) vectors, each ``(3,) float64``."""
        forward = np.subtract(self.target, self.position, dtype=np.float64)
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, (0.0, 0.0, 1.0))
        right /= np.linalg.norm(right)
        return forward, right, np.cross(right, forward)

    def half_extent(self) -> tuple[float, float]:
        tan_x = math.tan(math.radians(self.fov_deg) / 2.0)
        return tan_x, tan_x * self.height / self.width

    def rays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit directions through the pixel centres: three ``(height, width) float32`` arrays."""
        forward, right, up = (v.astype(F32) for v in self.basis())
        tan_x, tan_y = self.half_extent()
        u = ((np.arange(self.width, dtype=F32) + F32(0.5)) * F32(2.0 / self.width) - F32(1.0)) * F32(tan_x)
        v = (F32(1.0) - (np.arange(self.height, dtype=F32) + F32(0.5)) * F32(2.0 / self.height)) * F32(tan_y)
        d = [f + u[None, :] * r + v[:, None] * w for f, r, w in zip(forward, right, up, strict=True)]
        inv = F32(1.0) / np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
        return d[0] * inv, d[1] * inv, d[2] * inv

    def box_of(self, points: np.ndarray, margin: int = 1) -> tuple[int, int, int, int] | None:
        """Pixel box ``(row0, row1, col0, col1)`` (half-open) around the projections of ``points`` ``(n, 3)``.

        The whole image if a point is behind the camera; None if the box misses the image.
        """
        forward, right, up = self.basis()
        tan_x, tan_y = self.half_extent()
        rel = np.asarray(points, dtype=np.float64) - np.asarray(self.position)
        depth = rel @ forward
        if np.any(depth <= 1e-3):
            return 0, self.height, 0, self.width
        cols = ((rel @ right) / depth / tan_x + 1.0) / 2.0 * self.width
        rows = (1.0 - (rel @ up) / depth / tan_y) / 2.0 * self.height
        c0, c1 = max(int(np.floor(cols.min())) - margin, 0), min(int(np.ceil(cols.max())) + margin, self.width)
        r0, r1 = max(int(np.floor(rows.min())) - margin, 0), min(int(np.ceil(rows.max())) + margin, self.height)
        return (r0, r1, c0, c1) if r0 < r1 and c0 < c1 else None

    def bbox(self, obj: Obj, margin: int = 1) -> tuple[int, int, int, int] | None:
        """Pixel box holding the object's projection (see ``box_of``)."""
        return self.box_of(bound_corners(obj), margin)

    def shadow_box(
        self, obj: Obj, lamp: tuple[float, float, float], margin: int = 1
    ) -> tuple[int, int, int, int] | None:
        """Pixel box holding every ground point (z=0) whose ray to the point light ``lamp`` can hit ``obj``.

        The shadow of the object's bounding box is the convex hull of its corners' shadows, so their box suffices.
        """
        corners = bound_corners(obj)
        lamp_arr = np.asarray(lamp, dtype=np.float64)
        if np.any(corners[:, 2] >= lamp_arr[2] - 1e-3):
            return 0, self.height, 0, self.width
        scale = lamp_arr[2] / (lamp_arr[2] - corners[:, 2])
        ground = lamp_arr + (corners - lamp_arr) * scale[:, None]
        return self.box_of(np.concatenate([ground, corners]), margin)


def bound_corners(obj: Obj) -> np.ndarray:
    """The 8 corners ``(8, 3) float64`` of the axis-aligned cube around the object's bounding sphere."""
    b = obj.bound
    signs = np.array([(sx, sy, sz) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
    return np.array([obj.x, obj.y, obj.z]) + b * signs


def _to_local(obj: Obj, ox: Arr, oy: Arr, oz: Arr, dx: Arr, dy: Arr, dz: Arr) -> tuple[Arr, ...]:
    c, s = F32(math.cos(obj.theta)), F32(math.sin(obj.theta))
    px, py, pz = ox - F32(obj.x), oy - F32(obj.y), oz - F32(obj.z)
    return c * px + s * py, -s * px + c * py, pz, c * dx + s * dy, -s * dx + c * dy, dz


def _safe_inv(d: Arr) -> np.ndarray:
    d = np.asarray(d, dtype=F32)
    return F32(1.0) / np.where(np.abs(d) < 1e-12, F32(1e-12), d)


def _slab(o: Arr, d: Arr, half: float) -> tuple[np.ndarray, np.ndarray]:
    inv = _safe_inv(d)
    t1, t2 = (-F32(half) - o) * inv, (F32(half) - o) * inv
    return np.minimum(t1, t2), np.maximum(t1, t2)


def intersect(
    obj: Obj, ox: Arr, oy: Arr, oz: Arr, dx: Arr, dy: Arr, dz: Arr, normals: bool = False
) -> tuple[np.ndarray, ...]:
    """Entry/exit distances ``(t_in, t_out)`` of rays with ``obj`` (a miss has ``t_in > t_out``).

    With ``normals=True`` also returns the unit world-space normal at ``t_in`` as ``(nx, ny, nz)``.
    """
    lx, ly, lz, ex, ey, ez = _to_local(obj, ox, oy, oz, dx, dy, dz)
    h, r = F32(obj.half_height), F32(obj.radius)
    shape = np.broadcast_shapes(np.shape(lx), np.shape(ex))
    if obj.shape == "cube":
        ax0, ax1 = _slab(lx, ex, h)
        ay0, ay1 = _slab(ly, ey, h)
        az0, az1 = _slab(lz, ez, h)
        t_in = np.maximum(np.maximum(ax0, ay0), az0)
        t_out = np.minimum(np.minimum(ax1, ay1), az1)
        if not normals:
            return t_in, t_out
        zero = np.zeros(shape, F32)
        nx = np.where(t_in == ax0, -np.sign(ex), zero)
        ny = np.where((t_in == ay0) & (nx == 0), -np.sign(ey), zero)
        nz = np.where((nx == 0) & (ny == 0), -np.sign(ez), zero)
    elif obj.shape == "sphere":
        b = lx * ex + ly * ey + lz * ez
        disc = b * b - (lx * lx + ly * ly + lz * lz - r * r)
        root = np.sqrt(np.maximum(disc, F32(0.0)))
        hit = disc >= 0
        t_in, t_out = np.where(hit, -b - root, INF), np.where(hit, -b + root, -INF)
        if not normals:
            return t_in, t_out
        tt = np.where(hit, t_in, F32(0.0))
        nx, ny, nz = (lx + tt * ex) / r, (ly + tt * ey) / r, (lz + tt * ez) / r
    elif obj.shape == "cylinder":
        a = ex * ex + ey * ey
        b = lx * ex + ly * ey
        c = lx * lx + ly * ly - r * r
        a_safe = np.maximum(a, F32(1e-12))
        disc = b * b - a * c
        root = np.sqrt(np.maximum(disc, F32(0.0)))
        vertical = a < 1e-10
        hit = (disc >= 0) & ~vertical
        c0 = np.where(hit, (-b - root) / a_safe, np.where(vertical & (c < 0), -INF, INF))
        c1 = np.where(hit, (-b + root) / a_safe, np.where(vertical & (c < 0), INF, -INF))
        z0, z1 = _slab(lz, ez, h)
        t_in, t_out = np.maximum(c0, z0), np.minimum(c1, z1)
        if not normals:
            return t_in, t_out
        side = c0 >= z0
        tt = np.where(np.isfinite(t_in), t_in, F32(0.0))
        nx = np.where(side, (lx + tt * ex) / r, F32(0.0))
        ny = np.where(side, (ly + tt * ey) / r, F32(0.0))
        nz = np.where(side, F32(0.0), -np.sign(ez) + np.zeros(shape, F32))
    else:
        raise ValueError(f"unknown shape {obj.shape!r}; expected cube, sphere or cylinder")
    c, s = F32(math.cos(obj.theta)), F32(math.sin(obj.theta))
    world = (c * nx - s * ny, s * nx + c * ny, nz + np.zeros(shape, F32))
    return t_in, t_out, tuple(np.broadcast_to(n, shape).astype(F32) for n in world)


def hit_distance(obj: Obj, ox: Arr, oy: Arr, oz: Arr, dx: Arr, dy: Arr, dz: Arr, eps: float = 1e-3) -> np.ndarray:
    """Distance along unit rays from origins outside ``obj`` to where they enter it (float32, inf = miss).

    Rays are pre-filtered with the bounding sphere, so only rays passing near the object are tested exactly.
    """
    px, py, pz = F32(obj.x) - ox, F32(obj.y) - oy, F32(obj.z) - oz
    along = px * dx + py * dy + pz * dz
    miss2 = px * px + py * py + pz * pz - along * along
    out = np.full(np.broadcast_shapes(np.shape(ox), np.shape(dx)), INF, dtype=F32)
    idx = np.nonzero(np.broadcast_to((along > 0) & (miss2 < F32(obj.bound * obj.bound)), out.shape))
    if idx[0].size == 0:
        return out

    def pick(a: Arr) -> Arr:
        return np.broadcast_to(a, out.shape)[idx] if np.ndim(a) else a

    t_in, t_out = intersect(obj, pick(ox), pick(oy), pick(oz), pick(dx), pick(dy), pick(dz))
    out[idx] = np.where((t_in <= t_out) & (t_out > F32(eps)), np.maximum(t_in, F32(0.0)), INF)
    return out


def occludes(obj: Obj, ox: Arr, oy: Arr, oz: Arr, dx: Arr, dy: Arr, dz: Arr, eps: float = 1e-3) -> np.ndarray:
    """Bool mask: does the ray from each origin (outside ``obj``) hit ``obj`` at a positive distance?"""
    return hit_distance(obj, ox, oy, oz, dx, dy, dz, eps) < INF
