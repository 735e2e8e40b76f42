"""Shading and frame compositing for the synthetic i-CLEVR renderer.

Shadow rays are cast once per scene for every (surface, occluder, light) triple: the ground and each object's visible
points against every other object. Frame ``t`` (objects ``0..t``) then multiplies the light visibility of its own
occluders only, so the three frames of a scene cost little more than one. Work is in linear RGB; the supersampled
image is box-downsampled and gamma-encoded at the end.
"""

from __future__ import annotations

import numpy as np

from lab5_utils.synth import look
from lab5_utils.synth.raycast import F32, INF, hit_distance, occludes
from lab5_utils.synth.scene import COLOR_RGB, Scene, SceneConfig

LIGHT_POWER = (1.1, 0.25, 0.25)  # key, fill, back
SHADOW_STRENGTH = (1.0, 0.85, 0.7)  # how much of each lamp an occluder blocks (area lights leak a little)
AMBIENT = 0.12
GROUND_ALBEDO = 0.2
MIRRORED_LIGHT = 0.6  # rough brightness of another object seen in a metal surface
SOFTNESS = 0.008  # penumbra box radius as a fraction of the supersampled width
_GAMMA_LUT = np.round(255.0 * np.linspace(0.0, 1.0, 4096) ** (1.0 / 2.2)).astype(np.uint8)


def linear_rgb(color: str) -> np.ndarray:
    """CLEVR colour name -> linear RGB ``(3,) float32`` in [0, 1]."""
    return (np.asarray(COLOR_RGB[color], dtype=F32) / F32(255.0)) ** F32(2.2)


def _box_blur(a: np.ndarray, rad: int, axis: int) -> np.ndarray:
    pad = [(0, 0), (0, 0)]
    pad[axis] = (rad + 1, rad)
    c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=F32)
    n = a.shape[axis]
    hi = np.take(c, np.arange(2 * rad + 1, 2 * rad + 1 + n), axis=axis)
    lo = np.take(c, np.arange(n), axis=axis)
    return (hi - lo) / F32(2 * rad + 1)


def soften(mask: np.ndarray, rad: int) -> np.ndarray:
    """Bool shadow mask -> float32 coverage in [0, 1] blurred by two box passes each way (a tent filter).

    The mask should carry a margin of ``2 * rad`` pixels around its True area so the blur is not clipped.
    """
    part = mask.astype(F32)
    if rad > 0:
        for axis in (0, 1):
            part = _box_blur(_box_blur(part, rad, axis), rad, axis)
    return part


def _grow(box: tuple[int, int, int, int], by: int, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    r0, r1, c0, c1 = box
    return max(r0 - by, 0), min(r1 + by, shape[0]), max(c0 - by, 0), min(c1 + by, shape[1])


def _to_lights(scene: Scene, px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """Per light: unit direction to the lamp ``(lx, ly, lz)`` and a mild distance falloff factor."""
    out = []
    for lamp in scene.lights:
        vx, vy, vz = F32(lamp[0]) - px, F32(lamp[1]) - py, F32(lamp[2]) - pz
        dist = np.sqrt(vx * vx + vy * vy + vz * vz)
        ref = F32(np.linalg.norm(lamp))
        out.append((vx / dist, vy / dist, vz / dist, np.sqrt(ref / dist)))
    return out


class SceneShading:
    """Everything shared by the frames of one scene: per-surface lighting terms and per-occluder shadow factors."""

    def __init__(self, scene: Scene, cfg: SceneConfig) -> None:
        self.scene, self.cfg = scene, cfg
        dx, dy, dz = scene.rays
        cx, cy, cz = (F32(c) for c in scene.camera.position)
        rad = int(round(SOFTNESS * scene.camera.width))
        t = np.where(dz < -1e-6, -cz / np.minimum(dz, F32(-1e-6)), F32(100.0))
        gx, gy, gz = cx + t * dx, cy + t * dy, np.zeros_like(t)
        self.ground_diffuse: list[np.ndarray] = []
        self.ground_occ: list[list[tuple[tuple[int, int, int, int], np.ndarray] | None]] = []  # [light][object]
        for k, (lx, ly, lz, fall) in enumerate(_to_lights(scene, gx, gy, gz)):
            self.ground_diffuse.append(F32(LIGHT_POWER[k]) * np.maximum(lz, 0) * fall)
            occ = []
            for obj in scene.objects:
                box = scene.camera.shadow_box(obj, scene.lights[k])
                if box is None:
                    occ.append(None)
                    continue
                r0, r1, c0, c1 = box = _grow(box, 2 * rad, t.shape)
                cut = (slice(r0, r1), slice(c0, c1))
                mask = occludes(obj, gx[cut], gy[cut], gz[cut] + F32(1e-3), lx[cut], ly[cut], lz[cut])
                occ.append((box, soften(mask, rad) * F32(SHADOW_STRENGTH[k])) if mask.any() else None)
            self.ground_occ.append(occ)
        self.ground_env = F32(GROUND_ALBEDO) * (F32(AMBIENT) + sum(float(d.mean()) for d in self.ground_diffuse))
        self.floor = None  # the real look: the fitted floor, darkened by the ratio of shadowed to unshadowed light
        if cfg.look == "real":
            self.floor = look.floor_linear(scene.camera.width, scene.camera.height)
            self.ground_unshadowed = F32(AMBIENT) + sum(self.ground_diffuse)
        self.objects = [self._object_terms(i, cx, cy, cz) for i in range(len(scene.objects))]

    def _object_terms(self, i: int, cx: np.float32, cy: np.float32, cz: np.float32) -> dict:
        scene, obj, hit = self.scene, self.scene.objects[i], self.scene.hits[i]
        r0, r1, c0, c1 = hit.box
        mask = hit.t[r0:r1, c0:c1] < INF
        t = hit.t[r0:r1, c0:c1][mask]
        dx, dy, dz = (d[r0:r1, c0:c1][mask] for d in scene.rays)
        nx, ny, nz = (n[mask] for n in hit.normal)
        px, py, pz = cx + t * dx, cy + t * dy, cz + t * dz
        ox, oy, oz = px + F32(1e-3) * nx, py + F32(1e-3) * ny, pz + F32(1e-3) * nz
        metal = obj.material == "metal"
        shininess, spec_power = (25.0, 0.8) if metal else (6.0, 0.03)
        diffuse, specular, occ = [], [], []
        for k, (lx, ly, lz, fall) in enumerate(_to_lights(scene, px, py, pz)):
            ndl = np.maximum(nx * lx + ny * ly + nz * lz, 0)
            hx, hy, hz = lx - dx, ly - dy, lz - dz
            ndh = np.maximum(nx * hx + ny * hy + nz * hz, 0) / np.sqrt(hx * hx + hy * hy + hz * hz)
            diffuse.append(F32(LIGHT_POWER[k]) * ndl * fall)
            specular.append(F32(LIGHT_POWER[k] * spec_power) * ndh ** F32(shininess) * (ndl > 0))
            occ.append(
                [
                    None if j == i else occludes(o, ox, oy, oz, lx, ly, lz).astype(F32) * F32(SHADOW_STRENGTH[k])
                    for j, o in enumerate(scene.objects)
                ]
            )
        albedo = linear_rgb(obj.color)
        ambient = F32(AMBIENT) * (F32(0.7) + F32(0.3) * nz)
        env, mirrored = None, []
        if metal:  # environment: ground or sky, plus the first other object along the mirror ray
            dn = F32(2.0) * (dx * nx + dy * ny + dz * nz)
            rx, ry, rz = dx - dn * nx, dy - dn * ny, dz - dn * nz
            sky = F32(0.12) + F32(0.8) * np.sqrt(np.clip(rz, 0, 1))  # dark horizon, bright above
            env = np.where(rz < 0, self.ground_env * np.clip(F32(-3.0) * rz, F32(0.35), F32(1.0)), sky)
            mirrored = [
                None if j == i else hit_distance(o, ox, oy, oz, rx, ry, rz) for j, o in enumerate(scene.objects)
            ]
        return {"mask": mask, "diffuse": diffuse, "specular": specular, "occ": occ, "albedo": albedo,
                "ambient": ambient, "env": env, "mirrored": mirrored, "metal": metal}  # fmt: skip

    def _object_rgb(self, i: int, frame: int) -> np.ndarray:
        terms = self.objects[i]
        light = terms["ambient"].copy()
        highlight = np.zeros_like(light)
        for k in range(len(self.scene.lights)):
            vis = np.ones_like(light)
            for j in range(frame + 1):
                if terms["occ"][k][j] is not None:
                    vis *= F32(1.0) - terms["occ"][k][j]
            light += vis * terms["diffuse"][k]
            highlight += vis * terms["specular"][k]
        albedo = terms["albedo"][None, :]
        if terms["metal"]:
            env = np.repeat(terms["env"][:, None], 3, axis=1)
            nearest = np.full(len(env), INF, dtype=F32)
            for j, dist in enumerate(terms["mirrored"][: frame + 1]):
                if dist is not None:
                    closer = dist < nearest
                    env[closer] = linear_rgb(self.scene.objects[j].color) * F32(MIRRORED_LIGHT)
                    np.minimum(nearest, dist, out=nearest)
            base = albedo * (F32(0.15) * light[:, None] + env)
            return base + highlight[:, None] * (F32(0.4) + F32(0.6) * albedo)
        if self.cfg.look == "real":
            return look.object_rgb(albedo * light[:, None] + highlight[:, None])
        return albedo * light[:, None] + highlight[:, None]

    def frame(self, frame: int, noise: np.ndarray | None = None) -> tuple[np.ndarray, list[float]]:
        """Frame with objects ``0..frame``: ``(H, W, 3) uint8`` sRGB image (plus ``noise``, ``(H, W, 3)`` levels,
        if given) and visible output pixels per object."""
        light = np.full(self.ground_diffuse[0].shape, F32(AMBIENT))
        for k, diffuse in enumerate(self.ground_diffuse):
            vis = np.ones_like(light)
            for item in self.ground_occ[k][: frame + 1]:
                if item is not None:
                    (r0, r1, c0, c1), occ = item
                    vis[r0:r1, c0:c1] *= F32(1.0) - occ
            light += vis * diffuse
        if self.floor is None:
            image = np.repeat((F32(GROUND_ALBEDO) * light)[:, :, None], 3, axis=2)
        else:
            shade = F32(1.0) - F32(look.SHADOW_DEPTH) * (F32(1.0) - light / self.ground_unshadowed)
            image = self.floor * shade[:, :, None]
        hits = self.scene.hits[: frame + 1]
        nearest = np.min(np.stack([h.t for h in hits]), axis=0)
        ss = self.cfg.supersample
        counts = []
        for i, hit in enumerate(hits):
            r0, r1, c0, c1 = hit.box
            mask = self.objects[i]["mask"]
            rgb = self._object_rgb(i, frame)
            front = hit.t[r0:r1, c0:c1][mask] == nearest[r0:r1, c0:c1][mask]
            rows, cols = np.nonzero(mask)
            image[r0 + rows[front], c0 + cols[front]] = rgb[front]
            counts.append(round(int(np.count_nonzero(front)) / ss**2, 2))
        small = sum(image[a::ss, b::ss] for a in range(ss) for b in range(ss)) * F32(1.0 / ss**2)
        encoded = _GAMMA_LUT[(np.clip(small, 0.0, 1.0) * 4095.0 + 0.5).astype(np.int32)]
        if noise is not None:
            encoded = np.clip(np.rint(encoded + noise), 0, 255).astype(np.uint8)
        return encoded, counts


def render_scene(scene: Scene, cfg: SceneConfig, frames: list[int],
                 noise_seed: list[int] | None = None) -> list[tuple[np.ndarray, list[float]]]:
    """Render the given frames of a placed scene: per frame ``((H, W, 3) uint8, visible pixels per object)``.

    With ``cfg.noise_sd > 0`` one Gaussian noise field seeded by ``noise_seed`` is added to every frame."""
    shading = SceneShading(scene, cfg)
    noise = None
    if cfg.noise_sd > 0:
        if noise_seed is None:
            raise ValueError("render_scene: noise_sd > 0 needs a noise_seed")
        noise = np.random.default_rng(noise_seed).normal(0.0, cfg.noise_sd, (cfg.height, cfg.width, 3)).astype(F32)
    return [shading.frame(f, noise) for f in frames]
