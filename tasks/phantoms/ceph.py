"""Cephalogram phantom: a lateral skull radiograph facing right with the 19 ISBI 2015 landmarks.

It models the native ISBI 2015 image, 1935 x 2400 pixels at 0.1 mm, but is rendered directly at the
working size. The anatomy is built in *native millimetres* (x to the face's front = right, y down,
image 193.5 x 240 mm) from a low-dimensional shape model, then posed and mapped to working pixels with
``x_px = (10 x_mm + 0.5) W / 1935 - 0.5`` (likewise y with H / 2400), so the spacing is
``0.1 * (1935 / W, 2400 / H)`` mm per pixel.

Shape model (each a scalar drawn per image): skull size, cranial base angle, midface height, maxillary
prognathism and palatal tilt, ramus height, gonial angle, mandibular body length, chin prominence,
lower face height, upper and lower incisor inclination, overbite, soft tissue thickness, nose size and
lip protrusion. The mandible is rotated about the condyle until the incisors meet with the drawn
overbite, so jaw relation (class II / III) follows from the lengths. Pose: the head nods about the ear
rod by up to 8 degrees and shifts by a few millimetres (redrawn should a landmark leave the image);
the ear-rod holder stays vertical. Image: every structure's density varies, the far-side ear rod and
orbit and the other half of the mandible appear as offset second contours, random faint curves stand
for other superimposed structures, bone and soft tissue carry texture; contrast, gamma, blur and noise
vary.

Landmarks are geometric points of the drawn structures: sella = centre of the sella turcica cup,
porion = top of the (near) ear-rod ring, orbitale = lowest point of the orbit rim in the head's frame,
articulare = crossing of the posterior ramus border with the basiocciput's lower edge; the others are
control points that the drawn contours pass through (A and B points at the deepest points of the jaw
concavities, pogonion, gnathion, menton on the symphysis, gonion at the mandibular angle, lip points
at the lips' most prominent points).
"""

from __future__ import annotations

import numpy as np

from benchmark.data.settings import DataSettings
from benchmark.task import LabelledPool
from tasks.formats.isbi2015 import ISBI_LANDMARK_NAMES, ISBI_PIXEL_SPACING_MM
from tasks.phantoms import libm, render
from tasks.phantoms.pool import PhantomSpec, phantom_pool

CEPH_LANDMARK_NAMES = ISBI_LANDMARK_NAMES
NATIVE_SIZE = (1935, 2400)  # (W0, H0) pixels of an ISBI 2015 cephalogram
NATIVE_SPACING_MM = ISBI_PIXEL_SPACING_MM

# Mean anatomy (native mm). The vault runs from glabella over the top to the foramen magnum.
SELLA, NASION = np.array([80.0, 100.0]), np.array([147.0, 93.0])
VAULT = np.array([(149, 90), (152, 80), (151, 62), (142, 38), (123, 19), (95, 9), (62, 10), (33, 25),
                  (13, 50), (5, 82), (7, 115), (18, 142), (32, 155), (48, 158)], dtype=np.float64)
EAR_ROD, EAR_ROD_RADIUS = np.array([60.0, 122.5]), 4.5
ORBIT, ORBIT_AXES = np.array([126.0, 107.0]), (12.0, 13.0)
MAXILLA = {"pns": (95, 145), "ans": (149, 142), "a": (139, 151), "pr": (141, 160), "u_apex": (133, 149),
           "u_tip": (143.5, 167)}
CONDYLE = np.array([68.0, 128.0])
RAMUS_TILT, RAMUS_HEIGHT, GONIAL_ANGLE, BODY_LENGTH = 6.0, 48.0, 122.0, 63.0
# Symphysis in the mandible's local frame at menton: (along the body, up perpendicular to it), mm.
SYMPHYSIS = {"gn": (3.6, 4.0), "pog": (2.8, 10.3), "b": (-3.8, 19.3), "id": (-5.4, 36.3),
             "l_apex": (-9.6, 19.8), "l_tip": (-6.7, 43.4), "lingual": (-15.6, 9.1)}
DIRECTIONS = {"md_normal", "head_up"}  # anatomy entries that are unit vectors, not points


def _gauss(rng: np.random.Generator, sd: float, limit: float = 2.5) -> float:
    """A zero-mean normal draw truncated at ``limit`` standard deviations."""
    return float(np.clip(rng.normal(0.0, 1.0), -limit, limit) * sd)


def _mandible(rng: np.random.Generator, condyle: np.ndarray) -> dict[str, np.ndarray]:
    """Mandible points before the occlusal rotation: ramus, angle, body, symphysis, incisor, outline."""
    up = render.rotate(np.array([0.0, -1.0]), np.radians(-RAMUS_TILT + _gauss(rng, 3.0)))
    forward = render.rotate(up, np.radians(90.0))
    gonion = condyle - RAMUS_HEIGHT * (1.0 + _gauss(rng, 0.06)) * up
    body = render.rotate(up, np.radians(GONIAL_ANGLE + _gauss(rng, 5.0)))
    menton = gonion + BODY_LENGTH * (1.0 + _gauss(rng, 0.06)) * body
    normal = render.rotate(body, np.radians(-90.0))
    height = 1.0 + _gauss(rng, 0.06)
    local = {k: np.array(v, dtype=np.float64) for k, v in SYMPHYSIS.items()}
    local["pog"] += [1.0 + _gauss(rng, 1.0), 0.0]
    local["b"] += [_gauss(rng, 0.8), 0.0]
    p = {k: menton + v[0] * body + v[1] * height * normal for k, v in local.items()}
    incisor = render.rotate(p["l_tip"] - p["l_apex"], np.radians(_gauss(rng, 6.0)))
    incisor *= 1.0 + _gauss(rng, 0.05)
    p["l_tip"] = p["l_apex"] + incisor
    p["lower_teeth"] = np.array([p["l_tip"] + (-7.0 - 8.4 * i) * body + (-9.5 - 2.3 * i) * normal
                                 for i in range(4)])
    ramus_length = np.linalg.norm(condyle - gonion)
    along = lambda f, n: gonion + f * ramus_length * up + n * forward  # noqa: E731
    p["outline"] = np.array([
        condyle, condyle - 4.0 * forward - 3.0 * up, along(0.8, -2.5), gonion,
        gonion + 0.35 * (menton - gonion) + 1.0 * normal, gonion + 0.75 * (menton - gonion) - 0.8 * normal,
        menton, p["gn"], p["pog"], p["b"], p["id"], p["lower_teeth"][0] - 5.0 * normal,
        p["lower_teeth"][3] - 5.0 * normal, along(0.3, 27.0), along(0.65, 21.0), along(1.0, 22.0),
        along(0.8, 12.0), condyle + 4.0 * forward - 3.0 * up,
    ])
    p.update(condyle=condyle, gonion=gonion, menton=menton, normal=normal)
    return p


def _occlude(p: dict[str, np.ndarray], target_y: float, condyle: np.ndarray) -> dict[str, np.ndarray]:
    """Rotate the mandible about the condyle so that the lower incisor tip reaches height ``target_y``."""
    v = p["l_tip"] - condyle
    reach = np.linalg.norm(v)
    angle = libm.asin(float(np.clip((target_y - condyle[1]) / reach, -1.0, 1.0))) - libm.atan2(v[1], v[0])
    angle = float(np.clip(angle, np.radians(-12.0), np.radians(12.0)))
    return {k: render.rotate(v, angle, about=(0.0, 0.0) if k == "normal" else condyle) for k, v in p.items()}


def _intersect(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """Intersection point of the lines a0-a1 and b0-b1."""
    da, db, w = a1 - a0, b1 - b0, b0 - a0
    t = (w[0] * db[1] - w[1] * db[0]) / (da[0] * db[1] - da[1] * db[0])
    return a0 + t * da


def _anatomy(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sample one head: every named point and contour in native mm, before the pose."""
    a: dict[str, np.ndarray] = {"sella": SELLA.copy(), "vault": VAULT.copy()}
    a["nasion"] = render.rotate(NASION, np.radians(_gauss(rng, 2.5)), about=SELLA)
    a["vault"][:2] += a["nasion"] - NASION
    cup = np.radians(np.linspace(-15.0, 195.0, 15))
    cup = SELLA + (5.5 + _gauss(rng, 0.9)) * np.stack([np.cos(cup), np.sin(cup)], axis=1)
    a["sella_cup"] = SELLA + (cup - SELLA) * [1.0, 1.0 + _gauss(rng, 0.15)]  # shallow or deep fossa
    a["ear_rod"] = EAR_ROD + [_gauss(rng, 1.5), _gauss(rng, 1.5)]
    a["far_ear_rod"] = a["ear_rod"] + [3.0 + _gauss(rng, 1.5), -1.0 + _gauss(rng, 1.5)]  # other side
    orbit = ORBIT + [_gauss(rng, 1.2), _gauss(rng, 1.2)]
    rim = np.radians(np.linspace(0.0, 360.0, 25))
    axes = np.array(ORBIT_AXES) * (1.0 + _gauss(rng, 0.1)) * [1.0 + _gauss(rng, 0.06), 1.0]
    a["orbit_rim"] = orbit + np.stack([axes[0] * np.cos(rim), axes[1] * np.sin(rim)], axis=1)
    a["orbitale"] = orbit + [0.0, axes[1]]
    far_orbit = orbit + [2.0 + _gauss(rng, 1.0), 1.0 + _gauss(rng, 1.0)]
    a["far_orbit_rim"] = 1.05 * (a["orbit_rim"] - orbit) + far_orbit
    a["lateral_orbit"] = orbit + np.array([(9.0, -13.0), (10.0, 0.0), (5.0, 12.0)])
    a["key_ridge"] = orbit + np.array([(-14.0, 12.0), (-12.0, 24.0), (-6.0, 33.0)])
    a["clinoids"] = np.array([a["sella_cup"][-1], a["sella_cup"][-1] + [-1.0, -6.0],
                              a["sella_cup"][0] + [1.0, -1.0], a["sella_cup"][0] + [-4.0, -3.0]])
    a["sphenoid"] = SELLA + [2.0, 13.0]
    a["cranial_floor"] = np.array([SELLA + [7.0, -4.0], SELLA + [30.0, -3.0], a["nasion"] + [-8.0, 4.0]])
    a["cranial_base"] = np.array([SELLA + [-20.0, 50.0], SELLA + [-6.0, 8.0], SELLA + [10.0, -2.0],
                                  a["nasion"] + [-4.0, 2.0]])
    a["nasal_bone"] = a["nasion"] + np.array([(0.0, 0.0), (6.0, 12.0), (11.0, 23.0)])
    a["petrous"] = a["ear_rod"] + [-4.0, 2.0]
    a["vertebrae"] = a["ear_rod"] + np.array([(10.0, 30.0), (8.0, 52.0), (5.0, 78.0), (2.0, 100.0)])
    a["head_up"] = np.array([0.0, -1.0])
    # Maxilla: midface height about nasion, prognathism of the anterior points, palatal tilt about PNS.
    m = {k: np.array(v, dtype=np.float64) for k, v in MAXILLA.items()}
    height, prognathism = 1.0 + _gauss(rng, 0.05), _gauss(rng, 2.0)
    for k in m:
        m[k][1] = a["nasion"][1] + (m[k][1] - NASION[1]) * height
        if k != "pns":
            m[k][0] += prognathism
    m["ans"] += [_gauss(rng, 1.5), 0.0]
    m["a"] += [_gauss(rng, 1.0), 0.0]
    tilt = np.radians(_gauss(rng, 2.5))
    m = {k: render.rotate(v, tilt, about=m["pns"]) for k, v in m.items()}
    m["u_tip"] = m["u_apex"] + render.rotate(m["u_tip"] - m["u_apex"], np.radians(_gauss(rng, 6.0)))
    a.update(m)
    a["upper_teeth"] = np.array([m["u_tip"] + [-(13.0 + 8.5 * i), -(3.0 + 1.6 * i)] for i in range(4)])
    a["maxilla"] = np.array([
        m["pns"], 0.5 * (m["pns"] + m["ans"]) + [0.0, -3.0], m["ans"], m["a"], m["pr"],
        m["u_apex"] + [-6.0, 9.0], a["upper_teeth"][1] + [0.0, -5.0], a["upper_teeth"][3] + [0.0, -5.0],
        m["pns"] + [4.0, 12.0], m["pns"],
    ])
    a["ptm"] = m["pns"] + np.array([(0.0, -3.0), (-3.0, -13.0), (0.0, -25.0), (3.0, -13.0), (0.0, -3.0)])
    a["airway"] = m["pns"] + np.array([(-8.0, -6.0), (-11.0, 20.0), (-9.0, 55.0), (-12.0, 100.0)])
    # Mandible, closed onto the upper incisor with the drawn overbite.
    condyle = CONDYLE + [_gauss(rng, 1.0), _gauss(rng, 1.0)]
    overbite = 1.5 + _gauss(rng, 1.2)
    mandible = _occlude(_mandible(rng, condyle), m["u_tip"][1] - overbite, condyle)
    a.update({f"md_{k}": v for k, v in mandible.items()})
    a["md_other_side"] = mandible["outline"][2:7] + [_gauss(rng, 1.0) - 2.0, _gauss(rng, 1.0) + 2.5]
    a["hyoid"] = mandible["menton"] + [-28.0, 20.0]
    clivus = np.array([SELLA + [-7.0, 4.0], SELLA + [-20.0, 50.0]])
    a["clivus"] = clivus
    edge = clivus + 4.5 * _unit(render.rotate(clivus[1] - clivus[0], np.radians(-90.0)))
    a["articulare"] = _intersect(mandible["outline"][2], mandible["gonion"], edge[0], edge[1])
    # Soft tissue profile.
    t, nose, lips = 1.0 + _gauss(rng, 0.12), 1.0 + _gauss(rng, 0.1), _gauss(rng, 1.5)
    sn = m["ans"] + [5.0 * t, 3.0]
    a["subnasale"] = sn
    a["upper_lip"] = m["u_tip"] + [14.5 * t + lips, -7.0]
    a["lower_lip"] = mandible["l_tip"] + [14.0 * t + lips, 13.0]
    a["soft_pogonion"] = mandible["pog"] + [12.5 * t, 3.0]
    tip = sn + nose * np.array([22.0, -14.0])
    a["profile"] = np.array([
        a["vault"][3] + [6.0, -2.0], a["vault"][2] + [6.5, 0.0], a["vault"][1] + [6.0 * t, 0.0],
        a["nasion"] + [6.0 * t, 2.0], 0.55 * (a["nasion"] + [6.0, 2.0]) + 0.45 * tip + [2.0, 0.0], tip,
        sn + nose * np.array([10.0, -3.0]), sn, 0.5 * (sn + a["upper_lip"]) - [1.5 * t, 0.0], a["upper_lip"],
        0.5 * (m["u_tip"] + mandible["l_tip"]) + [8.5 * t, 1.5], a["lower_lip"],
        mandible["b"] + [11.5 * t, 1.0], a["soft_pogonion"], mandible["gn"] + [8.0 * t, 8.0],
        mandible["menton"] + [0.0, 9.0 * t], mandible["menton"] + [-22.0, 15.0],
        mandible["menton"] + [-26.0, 70.0],
    ])
    centre = np.array([80.0, 90.0])
    scalp = np.array([v + 6.0 * _unit(v - centre) for v in a["vault"][10:3:-1]])
    a["head_back"] = np.concatenate([[[-60.0, 320.0], [-60.0, 150.0]], scalp])
    return a


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _landmarks(a: dict[str, np.ndarray]) -> np.ndarray:
    """The 19 ISBI landmarks (native mm) of an anatomy, in ISBI order."""
    porion = a["ear_rod"] - [0.0, EAR_ROD_RADIUS]
    return np.array([
        a["sella"], a["nasion"], a["orbitale"], porion, a["a"], a["md_b"], a["md_pog"], a["md_menton"],
        a["md_gn"], a["md_gonion"], a["md_l_tip"], a["u_tip"], a["upper_lip"], a["lower_lip"], a["subnasale"],
        a["soft_pogonion"], a["pns"], a["ans"], a["articulare"],
    ])


def _pose(rng: np.random.Generator, a: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    """Scale the head (skull size), nod it about the ear rod, shift it; returns posed points and scale."""
    scale = 1.0 + _gauss(rng, 0.04)
    angle = np.radians(rng.uniform(-8.0, 8.0))
    shift = np.array([_gauss(rng, 3.0), _gauss(rng, 3.0)])
    centre = a["ear_rod"]
    posed = {}
    for k, v in a.items():
        if k in DIRECTIONS:
            posed[k] = render.rotate(v, angle)
        else:
            posed[k] = centre + render.rotate(scale * (v - centre), angle) + shift
    return posed, scale


def _draw(a: dict[str, np.ndarray], shape: tuple[int, int], to_px, mm: float, scale: float,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Soft-tissue and bone path-length maps of a posed anatomy.

    ``mm`` is working pixels per anatomical millimetre of this head (head ``scale`` included). Every
    structure's density varies by up to +-40 % (faint or dense sella, orbit, cortices, teeth), and a few
    random faint curves stand for the superimposed structures a real lateral projection is full of.
    """
    vary = lambda weight: weight * rng.uniform(0.6, 1.4)  # noqa: E731
    curve = lambda points: render.catmull_rom(to_px(points), step=4.0)  # noqa: E731
    soft = render.fill_polygon(shape, to_px(np.concatenate([a["profile"], a["head_back"]])))
    airway = np.zeros(shape, np.float32)
    render.tube(airway, curve(a["airway"]), 5.0 * mm)
    soft *= 1.0 - 0.6 * np.clip(airway, 0.0, 1.0)
    bone = np.zeros(shape, np.float32)
    cranium = render.fill_polygon(shape, np.concatenate([curve(a["vault"]), to_px(a["cranial_base"])]))
    bone += vary(0.25) * cranium * (1.0 + 0.25 * render.smooth_noise(rng, shape, 6))
    render.tube(bone, curve(a["vault"]), 3.5 * mm, weight=vary(0.8), hollow=0.55)
    render.tube(bone, curve(a["sella_cup"]), 1.0 * mm, weight=vary(0.7))
    render.tube(bone, to_px(a["clinoids"][:2]), 1.0 * mm, weight=vary(0.6))
    render.tube(bone, to_px(a["clinoids"][2:]), 1.0 * mm, weight=vary(0.6))
    render.ellipsoid(bone, to_px(a["sphenoid"]), (14.0 * mm, 9.0 * mm), weight=vary(0.25))
    render.rod(bone, *to_px(a["clivus"]), 4.5 * mm, 4.0 * mm, weight=vary(0.5))
    render.tube(bone, curve(a["cranial_floor"]), 1.5 * mm, weight=vary(0.5))
    render.tube(bone, to_px(a["orbit_rim"]), 1.0 * mm, weight=vary(0.45))
    render.tube(bone, to_px(a["far_orbit_rim"]), 1.0 * mm, weight=vary(0.25))
    render.tube(bone, curve(a["lateral_orbit"]), 1.2 * mm, weight=vary(0.4))
    render.tube(bone, curve(a["nasal_bone"]), 1.2 * mm, weight=vary(0.5))
    render.ellipsoid(bone, to_px(a["petrous"]), (14.0 * mm, 9.0 * mm), weight=vary(0.3))
    for _ in range(rng.integers(4, 9)):
        points = a["sella"] + rng.uniform([-30.0, -10.0], [60.0, 70.0]) + rng.normal(0.0, 12.0, (3, 2))
        render.tube(bone, curve(points), rng.uniform(0.6, 1.8) * mm, weight=rng.uniform(0.08, 0.25))
    # Maxilla: body, palate, spines, pterygomaxillary fissure, key ridge, teeth.
    bone += vary(0.3) * render.fill_polygon(shape, curve(a["maxilla"]))
    palate = a["ans"] - a["pns"]
    render.rod(bone, to_px(a["pns"]), to_px(a["ans"] - 0.15 * palate), 2.2 * mm, 2.0 * mm, weight=vary(0.5))
    render.rod(bone, to_px(a["ans"] - 0.2 * palate), to_px(a["ans"]), 1.8 * mm, 0.4 * mm, weight=vary(0.5))
    render.tube(bone, curve(a["ptm"]), 0.8 * mm, weight=vary(0.35))
    render.tube(bone, curve(a["key_ridge"]), 1.5 * mm, weight=vary(0.3))
    _tooth(bone, to_px(a["u_apex"]), to_px(a["u_tip"]), mm)
    _tooth(bone, to_px(a["md_l_apex"]), to_px(a["md_l_tip"]), mm)
    for crown, normal in ((a["upper_teeth"], a["head_up"]), (a["md_lower_teeth"], -a["md_normal"])):
        for c in crown:
            render.ellipsoid(bone, to_px(c), (4.2 * mm, 3.6 * mm), weight=vary(0.7))
            render.rod(bone, to_px(c), to_px(c + 13.0 * normal), 2.8 * mm, 1.2 * mm, weight=vary(0.45))
    # Mandible: body, cortex, second (other side) lower border, lingual symphysis.
    closed = np.concatenate([a["md_outline"], a["md_outline"][:1]])
    bone += vary(0.3) * render.fill_polygon(shape, curve(closed))
    render.tube(bone, curve(a["md_outline"][1:11]), 1.5 * mm, weight=vary(0.5))
    render.tube(bone, curve(a["md_other_side"]), 1.3 * mm, weight=vary(0.3))
    lingual = np.array([a["md_id"], a["md_lingual"], a["md_menton"]])
    render.tube(bone, curve(lingual), 1.2 * mm, weight=vary(0.4))
    # Ear rod (a machine part: not scaled with the head, holder vertical), cervical spine, hyoid.
    ear = to_px(a["ear_rod"])
    ring = np.radians(np.linspace(0.0, 360.0, 17))
    radius = EAR_ROD_RADIUS * mm / scale
    circle = np.stack([np.cos(ring), np.sin(ring)], axis=1)
    render.tube(bone, ear + radius * circle, 0.9 * mm, weight=vary(0.8))
    render.tube(bone, to_px(a["far_ear_rod"]) + 1.1 * radius * circle, 1.0 * mm, weight=vary(0.45))
    holder = ear - [0.0, radius], ear - [0.0, radius + 200.0 * mm]
    render.rod(bone, *holder, 1.5 * mm, 1.5 * mm, weight=vary(0.45))
    for centre, axes in zip(a["vertebrae"], ((4.0, 8.0), (8.0, 10.0), (8.5, 7.5), (8.5, 7.5))):
        render.ellipsoid(bone, to_px(centre), (axes[0] * mm, axes[1] * mm), weight=vary(0.5), hollow=0.6)
    render.ellipsoid(bone, to_px(a["hyoid"]), (5.0 * mm, 2.0 * mm), weight=vary(0.4))
    return soft, bone


def _tooth(canvas: np.ndarray, apex: np.ndarray, tip: np.ndarray, mm: float) -> None:
    """An incisor from root apex to incisal edge: tapered root, wide crown, bright enamel."""
    neck = apex + 0.55 * (tip - apex)
    render.rod(canvas, apex, neck, 1.2 * mm, 3.0 * mm, weight=0.5, op="max")
    render.rod(canvas, neck, tip, 3.3 * mm, 1.0 * mm, weight=0.8, op="max")


def render_ceph(rng: np.random.Generator, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One cephalogram phantom: ``(image (H, W) float32 in [0, 1], landmarks (19, 2) float32 (x, y) px)``."""
    shape = (int(image_size[0]), int(image_size[1]))
    per_native_px = np.array([shape[1] / NATIVE_SIZE[0], shape[0] / NATIVE_SIZE[1]])
    to_px = lambda p: (np.asarray(p) / NATIVE_SPACING_MM + 0.5) * per_native_px - 0.5  # noqa: E731
    head = _anatomy(rng)
    while True:  # a new pose in the rare case that a landmark left the image
        anatomy, scale = _pose(rng, head)
        landmarks = to_px(_landmarks(anatomy))
        if np.all(landmarks >= 0) and np.all(landmarks <= [shape[1] - 1, shape[0] - 1]):
            break
    mm = scale * float(np.sqrt(np.prod(per_native_px))) / NATIVE_SPACING_MM
    soft, bone = _draw(anatomy, shape, to_px, mm, scale, rng)
    bone *= 1.0 + rng.uniform(0.1, 0.25) * render.texture(rng, shape, max(0.7, 1.0 * mm))
    soft *= 1.0 + 0.08 * render.texture(rng, shape, 3.0 * mm)
    image = (
        rng.uniform(0.0, 0.08)
        + rng.uniform(0.0, 0.06) * render.linear_ramp(shape, rng.uniform(0, 2 * np.pi))
        + rng.uniform(0.12, 0.35) * soft
        + rng.uniform(0.3, 0.55) * bone
    )
    blur = rng.uniform(0.4, 1.1) * min(shape) / 128.0
    image = render.expose(image, rng, blur=blur, gamma=rng.uniform(0.8, 1.3), noise=rng.uniform(0.01, 0.045))
    return image, landmarks.astype(np.float32)


def ceph_spacing(image_size: tuple[int, int]) -> np.ndarray:
    """mm per working pixel along (x, y) for a native 1935 x 2400 image at 0.1 mm resized to (H, W)."""
    return NATIVE_SPACING_MM * np.array([NATIVE_SIZE[0] / image_size[1], NATIVE_SIZE[1] / image_size[0]])


CEPH_SPEC = PhantomSpec(
    name="ceph",
    version=3,
    render=render_ceph,
    label="landmarks",
    source="phantom:ceph",
    mm_rule=f"pixel spacing {NATIVE_SPACING_MM:g} mm at {NATIVE_SIZE[0]}x{NATIVE_SIZE[1]}",
    spacing=lambda labels, image_size: np.tile(ceph_spacing(image_size), (len(labels), 1)),
    original_size=lambda image_size: NATIVE_SIZE,
    landmark_names=CEPH_LANDMARK_NAMES,
)


def read_ceph_phantom(settings: DataSettings) -> LabelledPool:
    """The embedded cephalometric data set: phantoms with ISBI-ordered landmarks, folds, unlabelled pool."""
    return phantom_pool(CEPH_SPEC, settings)
