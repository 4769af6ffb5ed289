"""Panoramic phantom: a dental panoramic radiograph with both mandibular canals as the segmentation mask.

It models a native panoramic of 2560 x 1280 pixels at 0.1 mm (256 x 128 mm), rendered directly at the
working size: anatomy is built in native millimetres (x to the right, y down), posed, and mapped to
working pixels with ``x_px = (10 x_mm + 0.5) W / 2560 - 0.5`` (likewise y with H / 1280), so the
spacing is ``0.1 * (2560 / W, 1280 / H)`` mm per pixel.

Structures: the U-shaped mandible (rami with condyles and coronoid processes, body with a bright
inferior cortex), upper and lower teeth with crowns, pulp and roots along a smiling occlusal plane,
maxilla with hard palate and maxillary sinuses, zygomatic arches, and the ghost shadows of the
cervical spine (a broad bright band in the middle) and the pharyngeal airway (dark bands over the
rami). Each mandibular canal runs from the mandibular foramen in the ramus down and forward below
the molar roots to the mental foramen below the premolars: a radiolucent lumen between two bright
cortical lines. The mask is the lumen (pixel centres within the canal radius of its centre line),
about 2-4 pixels wide at W = 256. Variation: jaw shape and size, occlusal plane, tooth sizes and
missing teeth, canal path, radius and visibility (some canals are faint), pose, contrast, noise.
"""

from __future__ import annotations

import numpy as np

from benchmark.data.settings import DataSettings
from benchmark.task import LabelledPool
from tasks.phantoms import render
from tasks.phantoms.pool import PhantomSpec, phantom_pool

NATIVE_SIZE = (2560, 1280)  # (W0, H0) pixels of the modelled panoramic
NATIVE_SPACING_MM = 0.1
MIDLINE = 128.0

# Left half of the mean jaw (native mm); the right half is its mirror image about the midline.
LOWER_BORDER = np.array([(22, 30), (16, 55), (18, 80), (28, 99), (55, 107), (90, 113), (128, 116)], float)
RAMUS_FRONT = np.array([(36, 40), (52, 34), (50, 58), (54, 74)], dtype=np.float64)  # notch, coronoid, border
CANAL = np.array([(40, 60), (45, 78), (57, 91), (76, 95), (96, 91)], dtype=np.float64)  # foramen .. mental
TOOTH_WIDTHS = np.array([6.9, 7.5, 8.7, 8.7, 8.7, 13.0, 13.0, 12.5])  # incisors .. third molars, mm
CROWN_HALF_HEIGHT = 5.5
ROOTS = np.array([1, 1, 1, 1, 1, 2, 2, 2])


def _mirror(points: np.ndarray) -> np.ndarray:
    """Reflect points about the vertical midline of the jaw."""
    return np.stack([2 * MIDLINE - points[..., 0], points[..., 1]], axis=-1)


def _occlusal_y(x: np.ndarray, level: float, smile: float) -> np.ndarray:
    """Height of the occlusal plane: a smile, ``smile`` mm higher 100 mm from the midline than at it."""
    return level - smile * ((np.asarray(x) - MIDLINE) / 100.0) ** 2


def _anatomy(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sample one jaw: named point sets in native mm, before the pose.

    ``teeth`` rows are (x, y, width, roots, upper) of each present tooth, with (x, y) the crown centre.
    """
    level, smile = 61.0 + 2.0 * rng.standard_normal(), 7.0 + 2.0 * rng.standard_normal()
    depth = 1.0 + 0.05 * rng.standard_normal()
    border = LOWER_BORDER.copy()
    border[:, 1] = level + (border[:, 1] - 61.0) * depth + rng.normal(0.0, 1.0, len(border))
    ramus = RAMUS_FRONT + rng.normal(0.0, 1.5, RAMUS_FRONT.shape) + [0.0, level - 61.0]
    crest_x = np.linspace(2 * MIDLINE - 72.0, 72.0, 9)
    a = {"border": np.concatenate([border, _mirror(border[::-1])[1:]])}
    a["outline"] = np.concatenate([
        a["border"], _mirror(ramus), np.stack([crest_x, _occlusal_y(crest_x, level, smile) + 11.0], axis=1),
        ramus[::-1],
    ])
    arch = 1.0 + 0.04 * rng.standard_normal()
    teeth = []
    for upper in (0, 1):
        widths = TOOTH_WIDTHS * arch * (1.05 if upper else 1.0)
        offsets = np.cumsum(widths) - widths / 2
        for sign in (-1, 1):
            for k, (offset, width) in enumerate(zip(offsets, widths)):
                if rng.random() < (0.35 if k == 7 else 0.04):
                    continue
                x = MIDLINE + sign * offset
                y = _occlusal_y(x, level, smile) + (-1.0 if upper else 1.0) * (CROWN_HALF_HEIGHT - 0.3)
                teeth.append((x, y, width, ROOTS[k], upper))
    a["teeth"] = np.array(teeth)
    for side, name in ((0, "canal_left"), (1, "canal_right")):
        canal = CANAL + rng.normal(0.0, 1.2, CANAL.shape) + [0.0, level - 61.0]
        canal[-1] += rng.normal(0.0, 3.0, 2)
        canal[1:-1, 1] += rng.normal(0.0, 2.0)
        a[name] = canal if side == 0 else _mirror(canal)
    maxilla_x = np.linspace(2 * MIDLINE - 80.0, 80.0, 9)
    a["maxilla"] = np.concatenate([
        np.stack([maxilla_x, _occlusal_y(maxilla_x, level, smile) - 11.0], axis=1),
        np.array([(70.0, level - 38.0), (2 * MIDLINE - 70.0, level - 38.0)]),
    ])
    a["palate"] = np.array([(62.0, level - 21.0), (2 * MIDLINE - 62.0, level - 21.0)])
    a["sinuses"] = np.array([(72.0, level - 27.0), (2 * MIDLINE - 72.0, level - 27.0)])
    arch_left = np.array([(12.0, level - 24.0), (58.0, level - 30.0)])
    a["zygoma"] = np.concatenate([arch_left, _mirror(arch_left)])
    airway_left = np.array([(28.0, 10.0), (62.0, 100.0)])
    a["airway"] = np.concatenate([airway_left, _mirror(airway_left)]) + rng.normal(0.0, 3.0, (4, 2))
    return a


def _pose(rng: np.random.Generator, a: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    """Patient positioning (asymmetry from a head turn, scale, tilt, shift); returns posed points, scale."""
    asymmetry = 0.03 * rng.standard_normal()
    scale = rng.uniform(0.94, 1.05)
    angle = np.radians(1.5 * rng.standard_normal())
    shift = np.array([3.0, 2.5]) * rng.standard_normal(2)
    centre = np.array([MIDLINE, 64.0])

    def move(points: np.ndarray) -> np.ndarray:
        x = MIDLINE + (points[..., 0] - MIDLINE) * (1.0 + asymmetry * np.sign(points[..., 0] - MIDLINE))
        p = np.stack([x, points[..., 1]], axis=-1)
        return centre + render.rotate(scale * (p - centre), angle) + shift

    posed = {k: move(v) for k, v in a.items() if k != "teeth"}
    teeth = a["teeth"].copy()
    teeth[:, :2] = move(teeth[:, :2])
    teeth[:, 2] *= scale
    posed["teeth"] = teeth
    return posed, scale


def _draw_teeth(canvas: np.ndarray, teeth: np.ndarray, to_px, mm: float, rng: np.random.Generator) -> None:
    """Crowns (bright enamel, darker pulp) and tapering roots; upper roots point up, lower roots down."""
    for x, y, width, roots, upper in teeth:
        crown = to_px(np.array([x, y]))
        half = 0.46 * width
        render.ellipsoid(canvas, crown, (half * mm, CROWN_HALF_HEIGHT * mm), weight=0.9, hollow=0.3, op="max")
        direction = -1.0 if upper else 1.0
        length = rng.uniform(15.0, 19.0)
        for r in range(int(roots)):
            dx = 0.0 if roots == 1 else (r - 0.5) * 0.5 * width
            base = np.array([x + dx, y + direction * 3.0])
            apex = base + [0.3 * dx + rng.normal(0.0, 1.0), direction * length]
            render.rod(canvas, to_px(base), to_px(apex), (0.28 * width / roots + 0.6) * mm, 0.8 * mm,
                       weight=0.55, hollow=0.35, op="max")


def _draw_canal(image: np.ndarray, centre_line: np.ndarray, radius: float, visibility: float,
                rng: np.random.Generator) -> np.ndarray:
    """Darken the canal lumen, brighten its cortical walls, in place; returns the lumen mask (uint8)."""
    distance = render.polyline_distance(image.shape, render.catmull_rom(centre_line, step=2.0), radius + 4.0)
    wall = max(0.5, 0.35 * radius)
    image -= visibility * rng.uniform(0.08, 0.14) * render.chord((distance / radius) ** 2)
    walls = render.coverage(np.abs(distance - radius - wall / 2), wall / 2)
    image += visibility * rng.uniform(0.06, 0.12) * walls
    return (distance <= radius).astype(np.uint8)


def render_canal(rng: np.random.Generator, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One panoramic phantom: ``(image (H, W) float32 in [0, 1], canal mask (H, W) uint8 in {0, 1})``."""
    shape = (int(image_size[0]), int(image_size[1]))
    per_native_px = np.array([shape[1] / NATIVE_SIZE[0], shape[0] / NATIVE_SIZE[1]])
    to_px = lambda p: (np.asarray(p) / NATIVE_SPACING_MM + 0.5) * per_native_px - 0.5  # noqa: E731
    a, scale = _pose(rng, _anatomy(rng))
    mm = scale * float(np.sqrt(np.prod(per_native_px))) / NATIVE_SPACING_MM
    bone = np.zeros(shape, np.float32)
    bone += 0.3 * render.fill_polygon(shape, render.catmull_rom(to_px(a["outline"]), step=3.0))
    clutter = rng.uniform(0.05, 0.2) * render.texture(rng, shape, mm)
    bone *= 1.0 + 0.2 * render.smooth_noise(rng, shape, 8) + clutter
    render.tube(bone, render.catmull_rom(to_px(a["border"]), step=3.0), 2.0 * mm, weight=0.3)
    bone += 0.22 * render.fill_polygon(shape, to_px(a["maxilla"]))
    render.rod(bone, *to_px(a["palate"]), 3.0 * mm, 3.0 * mm, weight=0.35)
    for sinus in to_px(a["sinuses"]):
        render.ellipsoid(bone, sinus, (24.0 * mm, 10.0 * mm), weight=-0.12)
    for zygoma in to_px(a["zygoma"]).reshape(2, 2, 2):
        render.rod(bone, zygoma[0], zygoma[1], 3.0 * mm, 3.0 * mm, weight=0.25)
    _draw_teeth(bone, a["teeth"], to_px, mm, rng)
    image = (
        rng.uniform(0.05, 0.15)
        + rng.uniform(0.0, 0.06) * render.linear_ramp(shape, rng.uniform(0, 2 * np.pi))
        + rng.uniform(0.8, 1.1) * bone
    )
    render.ellipsoid(image, to_px([MIDLINE, 70.0]), (140.0 * mm, 80.0 * mm), weight=rng.uniform(0.1, 0.2))
    render.ellipsoid(image, to_px([MIDLINE, 64.0]), (14.0 * mm, 200.0 * mm), weight=rng.uniform(0.05, 0.18))
    for airway in to_px(a["airway"]).reshape(2, 2, 2):
        render.rod(image, airway[0], airway[1], 4.0 * mm, 4.0 * mm, weight=-rng.uniform(0.03, 0.1))
    radius, mask = rng.uniform(0.9, 1.6) * mm, np.zeros(shape, np.uint8)
    for name in ("canal_left", "canal_right"):
        visibility = rng.uniform(0.15, 1.0)
        mask |= _draw_canal(image, to_px(a[name]), radius * rng.uniform(0.9, 1.1), visibility, rng)
    blur = rng.uniform(0.4, 0.9) * min(shape) / 128.0
    image = render.expose(image, rng, blur=blur, gamma=rng.uniform(0.8, 1.25), noise=rng.uniform(0.01, 0.03))
    return image, mask


def canal_spacing(image_size: tuple[int, int]) -> np.ndarray:
    """mm per working pixel along (x, y) for a native 2560 x 1280 panoramic at 0.1 mm resized to (H, W)."""
    return NATIVE_SPACING_MM * np.array([NATIVE_SIZE[0] / image_size[1], NATIVE_SIZE[1] / image_size[0]])


CANAL_SPEC = PhantomSpec(
    name="canal",
    version=3,
    render=render_canal,
    label="mask",
    source="phantom:canal",
    mm_rule=f"pixel spacing {NATIVE_SPACING_MM:g} mm at {NATIVE_SIZE[0]}x{NATIVE_SIZE[1]}",
    spacing=lambda labels, image_size: np.tile(canal_spacing(image_size), (len(labels), 1)),
    original_size=lambda image_size: NATIVE_SIZE,
)


def read_canal_phantom(settings: DataSettings) -> LabelledPool:
    """The embedded canal data set: panoramic phantoms with canal masks, folds, an unlabelled pool."""
    return phantom_pool(CANAL_SPEC, settings)
