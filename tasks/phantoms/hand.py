"""Hand phantom: a PA radiograph of a left hand with 37 landmarks (Payer's hand protocol structure).

Geometry is built in a *hand frame* in millimetres: origin at the middle of the wrist, y pointing to
the fingers, +x to the radial (thumb) side; a left hand in PA view is displayed with the thumb on the
right, so +x is image right. The radial and ulnar styloid tips (landmarks 1 and 5) lie about 50 mm apart,
the protocol's wrist width; the ratio of wrist width to finger length varies between hands, so the mm
scale (``wrist_rule_spacing``) varies as in real data. A similarity transform (rotation, scale,
translation, with the image y axis pointing down) maps the hand into the image so that every landmark
and the soft tissue of the fingers fit; the forearm leaves the image at the bottom.

Landmark order (0-based): 13 wrist/carpal points (bone centres of the eight carpals, radial and ulnar
styloid tips, centre of the radial articular surface, ulnar head, distal radioulnar joint), then the
thumb (CMC, MCP, IP, tip), then index, middle, ring and little finger (CMC = metacarpal base, MCP, PIP,
DIP, tip). Joint landmarks are the centres of the joint gaps.
"""

from __future__ import annotations

import numpy as np

from benchmark.data.settings import DataSettings
from benchmark.protocol import WRIST_WIDTH_MM, wrist_rule_spacing
from benchmark.task import LabelledPool
from tasks.phantoms import render
from tasks.phantoms.pool import PhantomSpec, phantom_pool

CARPAL_NAMES = [
    "capitate", "radial_styloid", "scaphoid", "lunate", "triquetrum", "ulnar_styloid", "pisiform",
    "hamate", "trapezoid", "trapezium", "radius_articular_centre", "ulnar_head", "distal_radioulnar_joint",
]
FINGERS = ["index", "middle", "ring", "little"]
HAND_LANDMARK_NAMES: list[str] = (
    CARPAL_NAMES
    + [f"thumb_{j}" for j in ("cmc", "mcp", "ip", "tip")]
    + [f"{f}_{j}" for f in FINGERS for j in ("cmc", "mcp", "pip", "dip", "tip")]
)

# Mean carpal/wrist geometry in the hand frame (mm): centres, and ellipse semi-axes + angle (deg).
CARPAL_CENTRES = np.array([
    (2, 22), (25, 2), (15, 11), (3, 10), (-8, 11), (-25, -2), (-12, 13),
    (-8, 21), (11, 25), (19, 22), (12, 0), (-14, -5), (-1, -3),
], dtype=np.float64)
CARPAL_SHAPES = {  # landmark index: (a, b, angle)
    0: (5.5, 8.5, 0), 2: (8.0, 5.5, 50), 3: (6.5, 6.0, 0), 4: (6.0, 5.0, 20), 6: (4.5, 4.0, 0),
    7: (6.0, 7.0, -15), 8: (5.0, 5.0, 0), 9: (6.0, 5.5, 30),
}
# Fingers index..little: metacarpal base (mm), metacarpal angle and extra phalanx spread (deg, + = radial).
FINGER_BASES = np.array([(14, 31), (3.5, 33), (-6.5, 31), (-15.5, 28)], dtype=np.float64)
FINGER_ANGLES = np.array([7.0, 0.0, -6.0, -12.0])
FINGER_SPREAD = np.array([4.0, 1.0, -3.0, -7.0])
# Bone lengths (mm): metacarpal, proximal, middle, distal; the thumb has no middle phalanx.
FINGER_LENGTHS = np.array([(68, 40, 23, 17), (65, 45, 28, 19), (58, 42, 27, 19), (53, 33, 19, 16)], dtype=np.float64)
FINGER_WIDTHS = np.array([1.0, 1.05, 0.95, 0.85])
THUMB_BASE, THUMB_ANGLES, THUMB_LENGTHS = np.array([25.0, 28.0]), np.array([38.0, 30.0, 25.0]), np.array([45.0, 31.0, 24.0])
# Bone profiles (mm): base knob, shaft radius at base, at head, head knob; by bone kind.
BONE_RADII = {"meta": (6.0, 4.5, 4.0, 6.0), "prox": (6.0, 4.5, 3.8, 4.8), "mid": (5.0, 3.8, 3.3, 4.0), "dist": (4.2, 3.2, 2.0, 2.8)}


def _direction(angle_deg: np.ndarray | float) -> np.ndarray:
    """Unit vector at ``angle_deg`` from the hand's long axis (+y), positive towards +x."""
    a = np.radians(angle_deg)
    return np.stack([np.sin(a), np.cos(a)], axis=-1)


def _chain(rng: np.random.Generator, base, angles, lengths) -> np.ndarray:
    """Joint positions of one digit: base, then each bone along its angle with a small random bend."""
    bends = np.cumsum(rng.normal(0.0, 2.5, len(lengths)))
    steps = _direction(np.asarray(angles) + bends) * np.asarray(lengths)[:, None]
    return np.concatenate([np.asarray(base)[None], base + np.cumsum(steps, axis=0)])


def _skeleton(rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray], float]:
    """Sample a hand shape: the 37 landmarks (hand frame, mm), the joint chain of each digit, and width scale.

    Variation: wrist width vs. hand length, per-finger and per-bone lengths (correlated through a
    common hand factor), finger spread, thumb abduction, carpal jitter.
    """
    hand = rng.normal(1.0, 0.06)
    wrist = rng.normal(1.0, 0.05)
    spread = rng.uniform(0.2, 1.8)
    carpals = CARPAL_CENTRES * wrist + rng.normal(0.0, 0.7, CARPAL_CENTRES.shape)
    carpals[[1, 5]] = CARPAL_CENTRES[[1, 5]] * wrist + rng.normal(0.0, 0.5, (2, 2))
    chains = []
    thumb_angles = THUMB_ANGLES + rng.normal(0.0, 6.0) * np.array([1.0, 1.2, 1.3])
    thumb_lengths = THUMB_LENGTHS * hand * rng.normal(1.0, 0.04) * rng.normal(1.0, 0.04, 3)
    chains.append(_chain(rng, THUMB_BASE * wrist + rng.normal(0.0, 0.7, 2), thumb_angles, thumb_lengths))
    for f in range(4):
        meta = FINGER_ANGLES[f] * rng.normal(1.0, 0.15)
        phalanx = meta + FINGER_SPREAD[f] * spread + rng.normal(0.0, 2.5)
        angles = [meta, phalanx, phalanx, phalanx]
        lengths = FINGER_LENGTHS[f] * hand * rng.normal(1.0, 0.04) * rng.normal(1.0, 0.035, 4)
        chains.append(_chain(rng, FINGER_BASES[f] * wrist + rng.normal(0.0, 0.7, 2), angles, lengths))
    landmarks = np.concatenate([carpals] + chains)
    return landmarks, chains, rng.normal(1.0, 0.08)


def _pose(rng: np.random.Generator, landmarks: np.ndarray, chains: list[np.ndarray], image_size: tuple[int, int]):
    """A similarity transform hand frame (mm) -> image pixels that fits the hand into the image.

    Returns ``to_image`` (a function of (..., 2) points) and the scale in pixels per mm. The fitted
    extent covers every landmark, the finger soft tissue around the tips and 30 mm of forearm.
    """
    h, w = image_size
    angle = np.radians(rng.uniform(-20.0, 20.0))
    tips = np.array([c[-1] + 6.0 * (c[-1] - c[-2]) / np.linalg.norm(c[-1] - c[-2]) for c in chains])
    extent = np.concatenate([landmarks, tips, landmarks[[1, 5]] - [0.0, 30.0]])
    flipped = extent * [1.0, -1.0]  # hand frame (y up) -> image orientation (y down)
    turned = render.rotate(flipped, angle)
    margin = 10.0
    lo, hi = turned.min(axis=0) - margin, turned.max(axis=0) + margin
    scale = rng.uniform(0.8, 0.97) * min((w - 1) / (hi[0] - lo[0]), (h - 1) / (hi[1] - lo[1]))
    slack = np.array([w - 1, h - 1]) - scale * (hi - lo)
    offset = rng.uniform(0.15, 0.85, 2) * slack - scale * lo

    def to_image(points: np.ndarray) -> np.ndarray:
        return render.rotate(np.asarray(points) * [1.0, -1.0], angle) * scale + offset

    return to_image, scale


def _draw_bone(canvas: np.ndarray, p0: np.ndarray, p1: np.ndarray, kind: str, width: float, gap: float) -> None:
    """One long bone between joint centres p0 (proximal) and p1: flared base, tapered shaft, head."""
    axis = p1 - p0
    length = np.linalg.norm(axis)
    u = axis / length
    a, b = p0 + u * gap, p1 - u * gap
    base, shaft0, shaft1, head = (r * width for r in BONE_RADII[kind])
    angle = np.arctan2(u[1], u[0])
    render.rod(canvas, a + u * shaft0, b - u * shaft1, shaft0, shaft1, hollow=0.6, op="max")
    render.ellipsoid(canvas, a + u * 0.6 * base, (0.6 * base, base), angle, hollow=0.5, op="max")
    render.ellipsoid(canvas, b - u * 0.6 * head, (0.6 * head, head), angle, hollow=0.5, op="max")


def _draw_hand(shape, landmarks, chains, to_image, scale, width) -> tuple[np.ndarray, np.ndarray]:
    """Bone and soft-tissue path-length maps of the hand in image pixels (``scale`` px/mm)."""
    bone = np.zeros(shape, dtype=np.float32)
    tissue = np.zeros(shape, dtype=np.float32)
    b = scale * width  # bone radii in px per mm: bone width varies between hands
    s = scale
    # Forearm: radius and ulna shafts, distal ends, styloids.
    radius_end, ulna_end = landmarks[10], landmarks[11]
    render.rod(bone, to_image(radius_end - [1, 7]), to_image(radius_end - [4, 50]), 11.0 * b, 7.5 * b, hollow=0.6)
    render.rod(bone, to_image(radius_end - [4, 50]), to_image(radius_end - [6, 160]), 7.5 * b, 7.0 * b, hollow=0.6,
               op="max")
    render.ellipsoid(bone, to_image(radius_end - [0, 3]), (13.5 * b, 5.5 * b), _image_angle(to_image, [1, 0]),
                     hollow=0.55, op="max")
    render.rod(bone, to_image(radius_end + [5, -3]), to_image(landmarks[1]), 4.0 * b, 2.0 * b, op="max")
    render.rod(bone, to_image(ulna_end - [1, 4]), to_image(ulna_end - [3, 160]), 6.5 * b, 5.0 * b, hollow=0.6)
    render.ellipsoid(bone, to_image(ulna_end), (7.5 * b, 6.0 * b), _image_angle(to_image, [1, 0]), hollow=0.5, op="max")
    render.rod(bone, to_image(ulna_end + [-4, 0]), to_image(landmarks[5]), 3.0 * b, 1.6 * b, op="max")
    # Carpal bones (they overlap in projection, so they add up).
    for i, (ax, bx, deg) in CARPAL_SHAPES.items():
        angle = _image_angle(to_image, _direction(90.0 - deg))
        render.ellipsoid(bone, to_image(landmarks[i]), (ax * b, bx * b), angle, weight=0.8, hollow=0.5)
    # Digits: thumb (metacarpal, proximal, distal phalanx) and fingers (metacarpal .. distal), soft tissue.
    for d, chain in enumerate(chains):
        kinds = ["meta", "prox", "dist"] if d == 0 else ["meta", "prox", "mid", "dist"]
        digit = 1.15 if d == 0 else FINGER_WIDTHS[d - 1]
        joints = to_image(chain)
        for k, kind in enumerate(kinds):
            _draw_bone(bone, joints[k], joints[k + 1], kind, b * digit, gap=0.8 * s)
        axis = (chain[-1] - chain[-2]) / np.linalg.norm(chain[-1] - chain[-2])
        outline = to_image(np.concatenate([chain[1:], chain[-1:] + 1.5 * axis]))
        radii = np.array([12.0, 11.0, 9.5, 7.5] if d == 0 else [9.5, 8.5, 7.5, 7.0, 6.0]) * digit * s
        for k in range(len(outline) - 1):
            render.rod(tissue, outline[k], outline[k + 1], radii[k], radii[k + 1], weight=0.8, op="max")
    # Palm, thenar and hypothenar eminences, forearm.
    mcps = np.array([c[1] for c in chains[1:]])
    across = _image_angle(to_image, [1, 0])
    centre = 0.5 * (mcps.mean(axis=0) + landmarks[0])
    half_width = 0.5 * np.linalg.norm(mcps[0] - mcps[3]) + 14.0
    half_length = 0.5 * np.linalg.norm(mcps.mean(axis=0) - landmarks[0]) + 16.0
    render.ellipsoid(tissue, to_image(centre), (half_width * s, half_length * s), across, op="max")
    thumb = chains[0]
    thenar = to_image(0.5 * (thumb[0] + thumb[1]) - [6.0, 0.0])
    render.ellipsoid(tissue, thenar, (30.0 * s, 16.0 * s), _image_angle(to_image, thumb[1] - thumb[0]), op="max")
    render.rod(tissue, to_image(landmarks[6]), to_image(mcps[3]), 13.0 * s, 11.0 * s, op="max")
    render.rod(tissue, to_image([0.0, 15.0]), to_image([0.0, -250.0]), 31.0 * s, 35.0 * s, weight=1.1, op="max")
    return bone, tissue


def _image_angle(to_image, direction) -> float:
    """Angle (radians from image +x) of a hand-frame direction after the pose transform."""
    v = to_image(np.array([direction, [0.0, 0.0]]))
    return float(np.arctan2(*(v[0] - v[1])[::-1]))


def _marker(rng: np.random.Generator, image: np.ndarray, avoid: np.ndarray) -> None:
    """A lead side marker (bright plate with a letter) in an image corner away from the landmarks."""
    h, w = image.shape
    size = rng.uniform(0.09, 0.14) * min(h, w)
    for _ in range(4):
        corner = np.array([rng.choice([0.08, 0.92]) * w, rng.choice([0.06, 0.94]) * h])
        if np.min(np.linalg.norm(avoid - corner, axis=1)) > 1.2 * size:
            break
    else:
        return
    plate = np.zeros_like(image)
    render.rod(plate, corner - [0.0, 0.3 * size], corner + [0.0, 0.3 * size], 0.45 * size, 0.45 * size, op="max")
    letter = np.zeros_like(image)
    stroke = max(0.07 * size, 0.6)
    top, bottom = corner + [-0.15 * size, -0.35 * size], corner + [-0.15 * size, 0.3 * size]
    render.rod(letter, top, bottom, stroke, stroke, op="max")
    render.rod(letter, bottom, bottom + [0.35 * size, 0.0], stroke, stroke, op="max")
    image += rng.uniform(0.15, 0.35) * np.clip(np.minimum(plate, 1.0) * 4.0, 0, 1) + rng.uniform(0.3, 0.5) * letter


def render_hand(rng: np.random.Generator, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One hand phantom: ``(image (H, W) float32 in [0, 1], landmarks (37, 2) float32 (x, y) pixels)``."""
    shape = (int(image_size[0]), int(image_size[1]))
    landmarks, chains, width = _skeleton(rng)
    to_image, scale = _pose(rng, landmarks, chains, shape)
    bone, tissue = _draw_hand(shape, landmarks, chains, to_image, scale, width)
    points = to_image(landmarks)
    tissue *= 1.0 + 0.15 * render.smooth_noise(rng, shape, 5)
    image = (
        rng.uniform(0.0, 0.12)
        + rng.uniform(0.0, 0.08) * render.linear_ramp(shape, rng.uniform(0, 2 * np.pi))
        + rng.uniform(0.18, 0.35) * tissue
        + rng.uniform(0.3, 0.5) * bone
    )
    if rng.random() < 0.15:  # a ring on a proximal phalanx
        f = rng.integers(1, 5)
        p = to_image(chains[f][1] + 0.4 * (chains[f][2] - chains[f][1]))
        along = _image_angle(to_image, chains[f][2] - chains[f][1])
        render.ellipsoid(image, p, (2.2 * scale, 10.0 * scale), along, weight=0.5, hollow=0.6)
    if rng.random() < 0.5:
        _marker(rng, image, points)
    image = render.expose(image, rng, blur=rng.uniform(0.3, 0.9), gamma=rng.uniform(0.7, 1.4),
                          noise=rng.uniform(0.005, 0.04))
    return image, points.astype(np.float32)


HAND_SPEC = PhantomSpec(
    name="hand",
    version=1,
    render=render_hand,
    label="landmarks",
    source="phantom:hand",
    mm_rule=f"wrist width: |L1-L5| = {WRIST_WIDTH_MM:g} mm",
    spacing=lambda labels, image_size: wrist_rule_spacing(labels, where="hand phantom"),
    original_size=lambda image_size: (image_size[1], image_size[0]),
    landmark_names=HAND_LANDMARK_NAMES,
)


def read_hand_phantom(settings: DataSettings) -> LabelledPool:
    """The embedded hand data set: ``settings.n_labelled`` labelled phantoms, folds, an unlabelled pool."""
    return phantom_pool(HAND_SPEC, settings)
