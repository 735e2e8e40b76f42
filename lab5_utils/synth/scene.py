"""Scene sampling for the synthetic i-CLEVR renderer: camera and light jitter, CLEVR-style object placement.

Objects are added one at a time (i-CLEVR frames); a new object is re-placed until it keeps the minimum gap to the
earlier ones and every object of the frame (occlusion by the new one included) shows at least the minimum number of
pixels on exact per-object masks. Earlier objects never move.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lab5_utils.synth.raycast import F32, INF, Camera, Obj, intersect

# CLEVR's base scene (camera, key / fill / back lamps), in Blender world units.
CAMERA_POSITION = (7.36, -6.93, 4.96)
LIGHT_POSITIONS = ((6.45, -2.91, 4.26), (-4.67, -4.01, 3.01), (-1.17, 2.65, 5.82))
COLOR_RGB = {  # CLEVR's eight colours (sRGB 0-255)
    "gray": (87, 87, 87),
    "red": (173, 35, 35),
    "blue": (42, 75, 215),
    "green": (29, 105, 20),
    "brown": (129, 74, 25),
    "purple": (129, 38, 192),
    "cyan": (41, 208, 208),
    "yellow": (255, 238, 51),
}
SHAPE_NAMES = ("cube", "sphere", "cylinder")
MATERIALS = ("rubber", "metal")


@dataclass(frozen=True)
class SceneConfig:
    """Renderer settings. Output images are ``width x height``; rays are cast at ``supersample`` times that.

    Legibility at 64x64 (renderer v3): CLEVR's r=0.7 / 0.35 are scaled up to large r=0.95 and small r=0.75 (CLEVR's
    camera is kept); every labelled object must keep 45 of the 4096 pixels of the final 64x64 image visible
    (CLEVR asks 200 of 320x240, i.e. about 11 px at 64x64) and at least 70% of its own on-screen area (CLEVR has
    no such rule). Measured: the v1 judge (r=0.8 / 0.6, 11 px) missed 4-35% of the objects under 60 px and under
    0.5% above 100 px, almost all cube<->cylinder (the cube's half-side is r/sqrt(2), as in CLEVR); the v2 judge
    (these sizes, 45 px) reached 0.987 held-out, and half of its misses were objects less than 70% visible (3.5%
    of all objects), i.e. a cube or cylinder whose distinguishing top or edges were hidden.
    """

    width: int = 128
    height: int = 96
    supersample: int = 2
    fov_deg: float = 49.13  # 35 mm lens on a 32 mm sensor
    sizes: tuple[tuple[str, float], ...] = (("large", 0.95), ("small", 0.75))
    extent: float = 3.0  # x, y uniform in [-extent, extent]
    min_gap: float = 0.25  # centre distance minus both radii
    min_pixel_fraction: float = 45.0 / (64 * 64)  # of the image area; CLEVR: 200 / (320 * 240)
    min_visible_fraction: float = 0.7  # of each object's own on-screen area (occlusion by others)
    camera_jitter: float = 0.3
    light_jitter: float = 0.5
    object_tries: int = 60
    scene_tries: int = 30
    materials: tuple[str, ...] = MATERIALS
    placement: str = "uniform"  # "uniform" over the floor, or "ring": object 0 at the origin, later ones on a ring
    ring_radius: float = 0.0  # "ring": distance of objects 1.. from object 0 (world units), uniform angle
    ring_jitter: float = 0.0  # "ring": +- uniform on ring_radius
    shape_scale: tuple[tuple[str, float], ...] = ()  # per shape, a factor on the drawn size's radius (1 if absent)
    look: str = "v3"  # shading: "v3" (lit grey floor, CLEVR colours) or "real" (lab5_utils.synth.look)
    noise_sd: float = 0.0  # "real" look: render noise, sd in 8-bit levels per pixel before the squash to 64x64

    def __post_init__(self) -> None:
        if self.width < 8 or self.height < 8:
            raise ValueError(f"width and height must be at least 8 pixels, got {self.width}x{self.height}")
        if self.supersample < 1:
            raise ValueError(f"supersample must be >= 1, got {self.supersample}")
        if not 0.0 <= self.min_visible_fraction <= 1.0:
            raise ValueError(f"min_visible_fraction must be in [0, 1], got {self.min_visible_fraction}")
        if self.placement not in ("uniform", "ring"):
            raise ValueError(f"placement must be 'uniform' or 'ring', got {self.placement!r}")
        if self.look not in ("v3", "real"):
            raise ValueError(f"look must be 'v3' or 'real', got {self.look!r}")
        if unknown := set(self.materials) - set(MATERIALS):
            raise ValueError(f"materials: unknown {sorted(unknown)}; known {list(MATERIALS)}")

    @property
    def min_pixels(self) -> float:
        """Minimum visible pixels per labelled object, in output pixels."""
        return self.min_pixel_fraction * self.width * self.height


@dataclass
class Hit:
    """Primary-ray hit of one object: ``t`` (Hs, Ws) float32 distance (inf = miss); normals inside ``box``."""

    box: tuple[int, int, int, int]
    t: np.ndarray
    normal: tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Scene:
    """A placed scene: camera, lights, objects in insertion order, their primary hits and the camera rays."""

    camera: Camera
    lights: tuple[tuple[float, float, float], ...]
    objects: list[Obj]
    hits: list[Hit]
    rays: tuple[np.ndarray, np.ndarray, np.ndarray]


def parse_label(label: str) -> tuple[str, str]:
    """``"red cube"`` -> ``("red", "cube")``; unknown colours or shapes raise ``ValueError`` naming the label."""
    parts = label.split()
    if len(parts) != 2 or parts[0] not in COLOR_RGB or parts[1] not in SHAPE_NAMES:
        raise ValueError(f"unknown label {label!r}; expected '<colour> <shape>' with a CLEVR colour and shape")
    return parts[0], parts[1]


def sample_camera(rng: np.random.Generator, cfg: SceneConfig) -> Camera:
    """CLEVR's camera with uniform jitter of +-``camera_jitter`` per coordinate, at supersampled resolution."""
    pos = tuple(float(c + rng.uniform(-cfg.camera_jitter, cfg.camera_jitter)) for c in CAMERA_POSITION)
    ss = cfg.supersample
    return Camera(pos, (0.0, 0.0, 0.0), cfg.fov_deg, cfg.width * ss, cfg.height * ss)  # type: ignore[arg-type]


def sample_lights(rng: np.random.Generator, cfg: SceneConfig) -> tuple[tuple[float, float, float], ...]:
    """Key, fill and back lamp positions with uniform jitter of +-``light_jitter`` per coordinate."""
    j = cfg.light_jitter
    return tuple(tuple(float(c + rng.uniform(-j, j)) for c in p) for p in LIGHT_POSITIONS)  # type: ignore[misc]


def primary_hit(camera: Camera, rays: tuple[np.ndarray, np.ndarray, np.ndarray], obj: Obj) -> Hit | None:
    """Cast the camera rays inside the object's projected box; None if the object is off-screen."""
    box = camera.bbox(obj)
    if box is None:
        return None
    r0, r1, c0, c1 = box
    dx, dy, dz = (d[r0:r1, c0:c1] for d in rays)
    cx, cy, cz = (F32(c) for c in camera.position)
    t_in, t_out, normal = intersect(obj, cx, cy, cz, dx, dy, dz, normals=True)
    t = np.full(rays[0].shape, INF, dtype=F32)
    t[r0:r1, c0:c1] = np.where((t_in <= t_out) & (t_in > 0), t_in, INF)
    return Hit(box, t, normal)


def visible_counts(hits: list[Hit]) -> list[int]:
    """Supersampled pixels where each object is the nearest surface (exact masks, occlusion included)."""
    depth = np.stack([h.t for h in hits])
    nearest = depth.min(axis=0)
    return [int(np.count_nonzero((h.t == nearest) & (h.t < INF))) for h in hits]


def _counts_with(hits: list[Hit], counts: list[int], nearest: np.ndarray, new: Hit) -> list[int]:
    """Visible pixel counts after adding ``new`` (in front where strictly nearer), looking only inside its box."""
    r0, r1, c0, c1 = new.box
    near, t_new = nearest[r0:r1, c0:c1], new.t[r0:r1, c0:c1]
    front = t_new < near
    taken = front & (near < INF)
    if not taken.any():
        return [*counts, int(np.count_nonzero(front))]
    lost = [int(np.count_nonzero(taken & (h.t[r0:r1, c0:c1] == near))) for h in hits]
    return [c - loss for c, loss in zip(counts, lost, strict=True)] + [int(np.count_nonzero(front))]


def _gap_ok(obj: Obj, others: list[Obj], min_gap: float) -> bool:
    return all(math.hypot(obj.x - o.x, obj.y - o.y) - obj.radius - o.radius >= min_gap for o in others)


def _sample_object(rng: np.random.Generator, cfg: SceneConfig, color: str, shape: str, index: int) -> Obj:
    """Object ``index`` of a scene. ``"ring"`` placement (the real i-CLEVR's law, measured in notebook 01): object 0
    at the origin, later ones at ``ring_radius +- ring_jitter`` from it at a uniform angle."""
    size, radius = cfg.sizes[int(rng.integers(len(cfg.sizes)))] if len(cfg.sizes) > 1 else cfg.sizes[0]
    material = cfg.materials[int(rng.integers(len(cfg.materials)))] if len(cfg.materials) > 1 else cfg.materials[0]
    if cfg.placement == "uniform":
        x, y = (float(v) for v in rng.uniform(-cfg.extent, cfg.extent, size=2))
    elif index == 0:
        x = y = 0.0
    else:
        angle = rng.uniform(0.0, 2.0 * math.pi)
        distance = cfg.ring_radius + rng.uniform(-cfg.ring_jitter, cfg.ring_jitter)
        x, y = float(distance * math.cos(angle)), float(distance * math.sin(angle))
    theta = float(rng.uniform(0.0, 2.0 * math.pi))
    return Obj(shape, color, material, size, radius * dict(cfg.shape_scale).get(shape, 1.0), x, y, theta)


def place_scene(labels: list[str], rng: np.random.Generator, cfg: SceneConfig) -> Scene:
    """Sample camera, lights and one object per label (in order) satisfying gap and visibility constraints (in every
    frame, each object keeps ``min_pixels`` and ``min_visible_fraction`` of its on-screen area visible).

    Raises ``RuntimeError`` if no valid placement is found within ``scene_tries * object_tries`` attempts.
    """
    parsed = [parse_label(label) for label in labels]
    camera = sample_camera(rng, cfg)
    lights = sample_lights(rng, cfg)
    rays = camera.rays()
    need = cfg.min_pixels * cfg.supersample**2
    for _ in range(cfg.scene_tries):
        objects: list[Obj] = []
        hits: list[Hit] = []
        counts: list[int] = []
        needs: list[float] = []  # per object: max(minimum pixels, minimum fraction of its on-screen area)
        nearest = np.full(rays[0].shape, INF, dtype=F32)
        for index, (color, shape) in enumerate(parsed):
            for _ in range(cfg.object_tries):
                obj = _sample_object(rng, cfg, color, shape, index)
                if not _gap_ok(obj, objects, cfg.min_gap):
                    continue
                hit = primary_hit(camera, rays, obj)
                if hit is None:
                    continue
                new_counts = _counts_with(hits, counts, nearest, hit)
                new_needs = [*needs, max(need, cfg.min_visible_fraction * np.count_nonzero(hit.t < INF))]
                if any(c < n for c, n in zip(new_counts, new_needs, strict=True)):
                    continue
                objects.append(obj)
                hits.append(hit)
                counts, needs = new_counts, new_needs
                np.minimum(nearest, hit.t, out=nearest)
                break
            else:
                break  # this object could not be placed: retry the whole scene
        if len(objects) == len(parsed):
            return Scene(camera, lights, objects, hits, rays)
    raise RuntimeError(f"could not place {labels} within {cfg.scene_tries} scene tries")
