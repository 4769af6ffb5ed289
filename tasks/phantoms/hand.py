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

Variation: rotation (+-20 degrees), scale and placement; bone lengths (a hand factor, a finger factor
and a per-bone factor), finger flexion (foreshortened phalanges), spread and thumb abduction; bone
widths, joint gaps and bone-end shapes; skeletal maturity, as the real data set spans children to
adults (open growth plates put a second gap beside joints, carpals and epiphyses are smaller);
trabecular and soft-tissue texture, contrast, gamma, blur, noise, background gradient; distractors
(a lead side marker in a corner, a ring on a finger).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.data.settings import DataSettings
from benchmark.task import LabelledPool
from tasks.formats.payer_hand import WRIST_WIDTH_MM, wrist_rule_spacing
from tasks.phantoms import libm, render
from tasks.phantoms.pool import PhantomSpec, phantom_pool

WRIST_NAMES = [
    "capitate", "radial_styloid", "scaphoid", "lunate", "triquetrum", "ulnar_styloid", "pisiform",
    "hamate", "trapezoid", "trapezium", "radius_articular_centre", "ulnar_head", "distal_radioulnar_joint",
]
FINGERS = ["index", "middle", "ring", "little"]
HAND_LANDMARK_NAMES: list[str] = (
    WRIST_NAMES
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
FINGER_LENGTHS = np.array([(68, 40, 23, 17), (65, 45, 28, 19), (58, 42, 27, 19), (53, 33, 19, 16)], float)
FINGER_WIDTHS = np.array([1.0, 1.05, 0.95, 0.85])
THUMB_BASE = np.array([25.0, 28.0])
THUMB_ANGLES, THUMB_LENGTHS = np.array([38.0, 30.0, 25.0]), np.array([45.0, 31.0, 24.0])
# Bone profiles (mm): base knob, shaft radius at base, at head, head knob; by bone kind.
BONE_RADII = {"meta": (6.0, 4.5, 4.0, 6.0), "prox": (6.0, 4.5, 3.8, 4.8), "mid": (5.0, 3.8, 3.3, 4.0),
              "dist": (4.2, 3.2, 2.0, 2.8)}


GROWTH_PLATES_CLOSE = 0.75  # skeletal maturity (0 = young child, 1 = adult) at which growth plates close


@dataclass
class HandShape:
    """One sampled hand in the hand frame (mm): landmarks, joint chain per digit, bone width, maturity."""

    landmarks: np.ndarray
    chains: list[np.ndarray]
    width: float
    maturity: float

    @property
    def plate(self) -> float:
        """Growth-plate gap (mm) between epiphysis and shaft; 0 once the plates have closed."""
        open_fraction = max(0.0, GROWTH_PLATES_CLOSE - self.maturity) / GROWTH_PLATES_CLOSE
        return 0.0 if open_fraction == 0 else 0.4 + 1.8 * open_fraction

    @property
    def ossified(self) -> float:
        """Size of carpal bones and epiphyses relative to the adult's."""
        return 0.55 + 0.45 * min(1.0, self.maturity / GROWTH_PLATES_CLOSE)


def _direction(angle_deg: np.ndarray | float) -> np.ndarray:
    """Unit vector at ``angle_deg`` from the hand's long axis (+y), positive towards +x."""
    a = np.radians(angle_deg)
    return np.stack([np.sin(a), np.cos(a)], axis=-1)


def _chain(rng: np.random.Generator, base, angles, lengths) -> np.ndarray:
    """Joint positions of one digit: base, then each bone along its angle with a small random bend."""
    bends = np.cumsum(rng.normal(0.0, 2.5, len(lengths)))
    steps = _direction(np.asarray(angles) + bends) * np.asarray(lengths)[:, None]
    return np.concatenate([np.asarray(base)[None], base + np.cumsum(steps, axis=0)])


def _skeleton(rng: np.random.Generator) -> HandShape:
    """Sample a hand shape in the hand frame (mm).

    Variation: wrist width vs. hand length, per-finger and per-bone lengths (correlated through a
    common hand factor), flexion (foreshortened phalanges), finger spread, thumb abduction, carpal
    jitter, bone width and skeletal maturity.
    """
    hand = rng.normal(1.0, 0.06)
    wrist = rng.normal(1.0, 0.05)
    spread = rng.uniform(0.2, 1.8)
    carpals = CARPAL_CENTRES * wrist + rng.normal(0.0, 0.9, CARPAL_CENTRES.shape)
    carpals[[1, 5]] = CARPAL_CENTRES[[1, 5]] * wrist + rng.normal(0.0, 0.6, (2, 2))
    chains = []
    thumb_angles = THUMB_ANGLES + rng.normal(0.0, 6.0) * np.array([1.0, 1.2, 1.3])
    thumb_lengths = THUMB_LENGTHS * hand * rng.normal(1.0, 0.04) * rng.normal(1.0, 0.05, 3)
    thumb_lengths[1:] *= 1.0 - rng.uniform(0.0, 0.2) * np.array([0.4, 0.8])
    chains.append(_chain(rng, THUMB_BASE * wrist + rng.normal(0.0, 0.8, 2), thumb_angles, thumb_lengths))
    for f in range(4):
        meta = FINGER_ANGLES[f] * rng.normal(1.0, 0.15)
        phalanx = meta + FINGER_SPREAD[f] * spread + rng.normal(0.0, 2.5)
        angles = [meta, phalanx, phalanx, phalanx]
        flexion = 1.0 - rng.uniform(0.0, 0.25) * np.array([0.0, 0.3, 0.7, 0.9])
        lengths = FINGER_LENGTHS[f] * hand * rng.normal(1.0, 0.04) * rng.normal(1.0, 0.04, 4) * flexion
        chains.append(_chain(rng, FINGER_BASES[f] * wrist + rng.normal(0.0, 0.8, 2), angles, lengths))
    landmarks = np.concatenate([carpals] + chains)
    return HandShape(landmarks, chains, width=rng.normal(1.0, 0.08), maturity=rng.uniform(0.1, 1.0))


def _pose(rng: np.random.Generator, hand: HandShape, image_size: tuple[int, int]):
    """A similarity transform hand frame (mm) -> image pixels that fits the hand into the image.

    Returns ``to_image`` (a function of (..., 2) points) and the scale in pixels per mm. The fitted
    extent covers every landmark, the finger soft tissue around the tips and 30 mm of forearm.
    """
    h, w = image_size
    angle = np.radians(rng.uniform(-20.0, 20.0))
    tips = np.array([c[-1] + 6.0 * (c[-1] - c[-2]) / np.linalg.norm(c[-1] - c[-2]) for c in hand.chains])
    extent = np.concatenate([hand.landmarks, tips, hand.landmarks[[1, 5]] - [0.0, 30.0]])
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


def _bone_end(canvas: np.ndarray, surface: np.ndarray, inward: np.ndarray, knob: float, angle: float,
              plate: float, epiphysis: float) -> np.ndarray:
    """Draw one end of a long bone whose joint surface is at ``surface``; return where its shaft begins.

    A mature end is one flared knob. With an open growth plate (``plate`` > 0 px) the end is a
    separate epiphysis disc (relative size ``epiphysis``), the plate gap, then a flared metaphysis.
    """
    if plate <= 0:
        centre = surface + inward * 0.6 * knob
        render.ellipsoid(canvas, centre, (0.6 * knob, knob), angle, hollow=0.5, op="max")
        return surface
    thickness = 0.6 * knob * epiphysis
    disc = (thickness / 2, 0.85 * knob * epiphysis)
    render.ellipsoid(canvas, surface + inward * thickness / 2, disc, angle, hollow=0.4, op="max")
    start = surface + inward * (thickness + plate)
    flare = (0.5 * knob, 0.9 * knob)
    render.ellipsoid(canvas, start + inward * 0.5 * knob, flare, angle, hollow=0.5, op="max")
    return start


def _draw_bone(canvas: np.ndarray, rng: np.random.Generator, p0: np.ndarray, p1: np.ndarray, radii, gaps,
               plate: float, epiphysis_end: int, epiphysis: float) -> None:
    """One long bone between joint centres p0 (proximal) and p1 (all in px).

    ``radii`` = (base knob, shaft at base, shaft at head, head knob); ``gaps`` = half joint gaps at
    the two ends; the epiphysis (growth plate ``plate``) is at end ``epiphysis_end`` (0 base, 1 head).
    """
    u = (p1 - p0) / np.linalg.norm(p1 - p0)
    angle = libm.atan2(u[1], u[0])
    base, shaft0, shaft1, head = np.asarray(radii) * rng.uniform(0.88, 1.12, 4)
    a = _bone_end(canvas, p0 + u * gaps[0], u, base, angle, plate if epiphysis_end == 0 else 0.0, epiphysis)
    b = _bone_end(canvas, p1 - u * gaps[1], -u, head, angle, plate if epiphysis_end == 1 else 0.0, epiphysis)
    render.rod(canvas, a + u * shaft0, b - u * shaft1, shaft0, shaft1, hollow=0.6, op="max")


def _draw_forearm(bone: np.ndarray, hand: HandShape, to_image, b: float) -> None:
    """Distal radius and ulna: shafts leaving the image, epiphyses (behind open growth plates), styloids."""
    radius_end, ulna_end, lm = hand.landmarks[10], hand.landmarks[11], hand.landmarks
    across = _image_angle(to_image, [1, 0])
    e, plate = hand.ossified, hand.plate
    render.rod(bone, to_image(radius_end - [1, 7 + plate]), to_image(radius_end - [4, 50]), 11.0 * b, 7.5 * b,
               hollow=0.6)
    render.rod(bone, to_image(radius_end - [4, 50]), to_image(radius_end - [6, 160]), 7.5 * b, 7.0 * b,
               hollow=0.6, op="max")
    render.ellipsoid(bone, to_image(radius_end - [0, 3]), (13.5 * e * b, 5.5 * e * b), across, hollow=0.55,
                     op="max")
    render.rod(bone, to_image(radius_end + [5, -3]), to_image(lm[1]), 4.0 * e * b, 2.0 * e * b, op="max")
    render.rod(bone, to_image(ulna_end - [1, 4 + plate]), to_image(ulna_end - [3, 160]), 6.5 * b, 5.0 * b,
               hollow=0.6)
    render.ellipsoid(bone, to_image(ulna_end), (7.5 * e * b, 6.0 * e * b), across, hollow=0.5, op="max")
    render.rod(bone, to_image(ulna_end + [-4, 0]), to_image(lm[5]), 3.0 * e * b, 1.6 * e * b, op="max")


def _draw_hand(shape, hand: HandShape, to_image, scale: float, rng: np.random.Generator):
    """Bone and soft-tissue path-length maps of the hand in image pixels (``scale`` px/mm)."""
    bone = np.zeros(shape, dtype=np.float32)
    tissue = np.zeros(shape, dtype=np.float32)
    b, s = scale * hand.width, scale  # px per mm for bone radii (bone width varies) and for soft tissue
    _draw_forearm(bone, hand, to_image, b)
    # Carpal bones (they overlap in projection, so they add up); smaller while still ossifying.
    for i, (ax, bx, deg) in CARPAL_SHAPES.items():
        angle = _image_angle(to_image, _direction(90.0 - deg - rng.normal(0.0, 8.0)))
        axes = np.array([ax, bx]) * hand.ossified * b * rng.uniform(0.9, 1.1, 2)
        render.ellipsoid(bone, to_image(hand.landmarks[i]), axes, angle, weight=0.8, hollow=0.5)
    # Digits: thumb (metacarpal, proximal, distal phalanx) and fingers (metacarpal .. distal), soft tissue.
    for d, chain in enumerate(hand.chains):
        kinds = ["meta", "prox", "dist"] if d == 0 else ["meta", "prox", "mid", "dist"]
        digit = 1.15 if d == 0 else FINGER_WIDTHS[d - 1]
        joints = to_image(chain)
        gaps = rng.uniform(0.25, 0.8, len(joints)) * s
        gaps[-1] = 0.0
        for k, kind in enumerate(kinds):
            epiphysis_end = 1 if kind == "meta" and d > 0 else 0
            _draw_bone(bone, rng, joints[k], joints[k + 1], np.array(BONE_RADII[kind]) * b * digit,
                       (gaps[k], gaps[k + 1]), hand.plate * s, epiphysis_end, hand.ossified)
        axis = (chain[-1] - chain[-2]) / np.linalg.norm(chain[-1] - chain[-2])
        outline = to_image(np.concatenate([chain[1:], chain[-1:] + 1.5 * axis]))
        radii = np.array([12.0, 11.0, 9.5, 7.5] if d == 0 else [9.5, 8.5, 7.5, 7.0, 6.0]) * digit * s
        for k in range(len(outline) - 1):
            render.rod(tissue, outline[k], outline[k + 1], radii[k], radii[k + 1], weight=0.8, op="max")
    thumb = hand.chains[0]
    if hand.maturity > 0.5:  # sesamoid bones at the thumb's MCP joint
        side = _direction(_angle_deg(thumb[1] - thumb[0]) + 90.0)
        for offset in (-3.0, 3.0):
            render.ellipsoid(bone, to_image(thumb[1] + side * offset - 2.0 * _unit(thumb[1] - thumb[0])),
                             (2.0 * b, 2.0 * b), weight=0.6)
    # Palm, thenar and hypothenar eminences, forearm.
    mcps = np.array([c[1] for c in hand.chains[1:]])
    lm = hand.landmarks
    centre = 0.5 * (mcps.mean(axis=0) + lm[0])
    half_width = 0.5 * np.linalg.norm(mcps[0] - mcps[3]) + 14.0
    half_length = 0.5 * np.linalg.norm(mcps.mean(axis=0) - lm[0]) + 16.0
    across = _image_angle(to_image, [1, 0])
    render.ellipsoid(tissue, to_image(centre), (half_width * s, half_length * s), across, op="max")
    thenar = to_image(0.5 * (thumb[0] + thumb[1]) - [6.0, 0.0])
    along_thumb = _image_angle(to_image, thumb[1] - thumb[0])
    render.ellipsoid(tissue, thenar, (30.0 * s, 16.0 * s), along_thumb, op="max")
    render.rod(tissue, to_image(lm[6]), to_image(mcps[3]), 13.0 * s, 11.0 * s, op="max")
    forearm = to_image([0.0, 15.0]), to_image([0.0, -250.0])
    render.rod(tissue, *forearm, 31.0 * s, 35.0 * s, weight=1.1, op="max")
    return bone, tissue


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _angle_deg(v: np.ndarray) -> float:
    """Angle of a hand-frame vector from +y, positive towards +x (inverse of :func:`_direction`)."""
    return float(np.degrees(libm.atan2(v[0], v[1])))


def _image_angle(to_image, direction) -> float:
    """Angle (radians from image +x) of a hand-frame direction after the pose transform."""
    v = to_image(np.array([direction, [0.0, 0.0]]))
    return libm.atan2(*(v[0] - v[1])[::-1])


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
    half = np.array([0.0, 0.3 * size])
    render.rod(plate, corner - half, corner + half, 0.45 * size, 0.45 * size, op="max")
    letter = np.zeros_like(image)
    stroke = max(0.07 * size, 0.6)
    top, bottom = corner + [-0.15 * size, -0.35 * size], corner + [-0.15 * size, 0.3 * size]
    render.rod(letter, top, bottom, stroke, stroke, op="max")
    render.rod(letter, bottom, bottom + [0.35 * size, 0.0], stroke, stroke, op="max")
    image += rng.uniform(0.15, 0.35) * np.clip(4.0 * plate, 0, 1) + rng.uniform(0.3, 0.5) * letter


def render_hand(rng: np.random.Generator, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One hand phantom: ``(image (H, W) float32 in [0, 1], landmarks (37, 2) float32 (x, y) pixels)``."""
    shape = (int(image_size[0]), int(image_size[1]))
    hand = _skeleton(rng)
    to_image, scale = _pose(rng, hand, shape)
    bone, tissue = _draw_hand(shape, hand, to_image, scale, rng)
    points = to_image(hand.landmarks)
    bone *= 1.0 + rng.uniform(0.1, 0.3) * render.texture(rng, shape, max(0.7, 1.2 * scale))
    tissue *= 1.0 + 0.15 * render.smooth_noise(rng, shape, 5) + 0.1 * render.texture(rng, shape, 3.0 * scale)
    image = (
        rng.uniform(0.0, 0.12)
        + rng.uniform(0.0, 0.08) * render.linear_ramp(shape, rng.uniform(0, 2 * np.pi))
        + rng.uniform(0.15, 0.35) * tissue
        + rng.uniform(0.22, 0.5) * bone
    )
    if rng.random() < 0.15:  # a ring on a proximal phalanx
        f = rng.integers(1, 5)
        p = to_image(hand.chains[f][1] + 0.4 * (hand.chains[f][2] - hand.chains[f][1]))
        along = _image_angle(to_image, hand.chains[f][2] - hand.chains[f][1])
        render.ellipsoid(image, p, (2.2 * scale, 10.0 * scale), along, weight=0.5, hollow=0.6)
    if rng.random() < 0.5:
        _marker(rng, image, points)
    size = min(shape) / 128.0
    image = render.expose(image, rng, blur=rng.uniform(0.4, 1.1) * size, gamma=rng.uniform(0.7, 1.4),
                          noise=rng.uniform(0.01, 0.05))
    return image, points.astype(np.float32)


HAND_SPEC = PhantomSpec(
    name="hand",
    version=3,
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
