"""Procedural cartoon faces that stand in for CelebA, so the pipeline runs offline.

Each face is a plain PIL drawing laid out like CelebA's aligned 178x218 crops
(face centred, eyes near y=110), with a set of CelebA attributes that are drawn
visibly (smile, glasses, hair colour, beard, lipstick...) so that a GAN can learn
them and a small classifier can read them back. Face ``index`` of a set depends
only on ``(seed, index)``, never on how many faces are written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ganlab.faces import LANDMARKS

# CelebA attribute names (CelebA spelling and CelebA column order) that the drawings express.
ATTRIBUTES: tuple[str, ...] = (
    "Attractive",
    "Bangs",
    "Big_Lips",
    "Black_Hair",
    "Blond_Hair",
    "Brown_Hair",
    "Eyeglasses",
    "Gray_Hair",
    "High_Cheekbones",
    "Male",
    "No_Beard",
    "Pale_Skin",
    "Smiling",
    "Wearing_Lipstick",
    "Young",
)
HAIR_ATTRIBUTES: tuple[str, ...] = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
IMAGE_SIZE = (178, 218)  # (width, height) of CelebA's aligned images

_SS = 2  # supersampling factor: draw large, then downsample, for smooth edges
_JPEG_QUALITY = 95
_THIN = max(1, int(0.8 * _SS))  # width of fine lines (wrinkles, nose ridge) on the canvas

_HAIR_RGB = {
    "Black_Hair": (28, 22, 20),
    "Brown_Hair": (105, 62, 32),
    "Blond_Hair": (222, 190, 118),
    "Gray_Hair": (168, 168, 170),
}
# Skin tones from light to dark; Pale_Skin faces use a separate, clearly paler tone.
_SKIN_RGB = ((230, 192, 162), (220, 176, 144), (198, 150, 112), (160, 112, 80), (112, 74, 52))
_PALE_RGB = (244, 220, 208)
_IRIS_RGB = ((70, 110, 160), (80, 130, 80), (100, 65, 40), (60, 40, 30), (110, 110, 120))


def _flag(value: bool) -> int:
    return 1 if value else -1


def _jitter(rng: np.random.Generator, rgb, spread: float) -> tuple[int, int, int]:
    out = np.clip(np.asarray(rgb, dtype=float) + rng.uniform(-spread, spread, 3), 0, 255)
    return tuple(int(v) for v in out)


def _shade(rgb, factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, c * factor))) for c in rgb)


def _soft(mask: Image.Image, radius: float) -> Image.Image:
    """Blur a supersampled mask at final resolution (4x cheaper) and scale it back up."""
    small = mask.reduce(_SS).filter(ImageFilter.GaussianBlur(radius))
    return small.resize(mask.size, Image.BILINEAR)


def _sample_attributes(rng: np.random.Generator) -> dict[str, int]:
    """Draw a consistent attribute set with CelebA-like correlations."""
    male = rng.random() < 0.45
    young = rng.random() < 0.7
    # Gray hair mostly on older faces, so Young and Gray_Hair correlate as in CelebA.
    hair_p = [0.32, 0.3, 0.32, 0.06] if young else [0.22, 0.12, 0.26, 0.4]
    hair = HAIR_ATTRIBUTES[rng.choice(4, p=hair_p)]
    smiling = rng.random() < 0.5
    glasses = rng.random() < 0.2
    beard = male and rng.random() < 0.4
    lipstick = (not male) and rng.random() < 0.6
    cheekbones = rng.random() < (0.6 if smiling else 0.3)
    big_lips = rng.random() < 0.3
    bangs = rng.random() < (0.1 if male else 0.3)
    pale = rng.random() < 0.12
    # Attractive is a noisy function of visible traits (young, no glasses, high
    # cheekbones or lipstick, no beard), so it is learnable from the picture but not
    # a copy of any single attribute; 10 % of labels are flipped like a subjective rating.
    score = young + (not glasses) + (cheekbones or lipstick) + (not beard)
    attractive = (score >= 4) != (rng.random() < 0.1)
    attrs = {
        "Attractive": attractive,
        "Bangs": bangs,
        "Big_Lips": big_lips,
        "Eyeglasses": glasses,
        "High_Cheekbones": cheekbones,
        "Male": male,
        "No_Beard": not beard,
        "Pale_Skin": pale,
        "Smiling": smiling,
        "Wearing_Lipstick": lipstick,
        "Young": young,
    }
    attrs.update({name: name == hair for name in HAIR_ATTRIBUTES})
    return {name: _flag(attrs[name]) for name in ATTRIBUTES}


@dataclass(frozen=True)
class _Layout:
    """Face geometry in final-image pixels, with helpers that scale to the supersampled canvas."""

    cx: float  # head centre x
    ey: float  # eye line y
    fw: float  # head width
    fh: float  # head height

    @property
    def top(self) -> float:
        return self.ey - 0.47 * self.fh

    @property
    def chin(self) -> float:
        return self.ey + 0.53 * self.fh

    @property
    def left(self) -> float:
        return self.cx - self.fw / 2

    @property
    def right(self) -> float:
        return self.cx + self.fw / 2

    def box(self, x1: float, y1: float, x2: float, y2: float) -> tuple[float, float, float, float]:
        return (x1 * _SS, y1 * _SS, x2 * _SS, y2 * _SS)

    def pts(self, *xy: tuple[float, float]) -> list[tuple[float, float]]:
        return [(x * _SS, y * _SS) for x, y in xy]

    def jaw(self, chin_dy: float) -> list[tuple[float, float]]:
        """The broad male jaw: a hexagon from the eye line down to a wide chin."""
        cx, ey, fw, fh, chin = self.cx, self.ey, self.fw, self.fh, self.chin
        return self.pts(
            (self.left + 0.02 * fw, ey), (self.right - 0.02 * fw, ey),
            (self.right - 0.07 * fw, ey + 0.36 * fh), (cx + 0.2 * fw, chin + chin_dy * fh),
            (cx - 0.2 * fw, chin + chin_dy * fh), (self.left + 0.07 * fw, ey + 0.36 * fh),
        )


def _draw_head(d: ImageDraw.ImageDraw, g: _Layout, on: dict[str, bool], skin, hair, shirt, rng) -> None:
    """Long hair behind the head, neck and shoulders, ears, and the head itself."""
    cx, ey, fw, fh, box = g.cx, g.ey, g.fw, g.fh, g.box
    # Long hair behind head and shoulders for most women; men keep short hair only.
    if not on["Male"] and rng.random() < 0.85:
        d.rounded_rectangle(
            box(g.left - 0.16 * fw, g.top - 0.06 * fh, g.right + 0.16 * fw, g.chin + 0.25 * fh),
            radius=0.45 * fw * _SS,
            fill=hair,
        )
    d.rectangle(box(cx - 0.2 * fw, ey + 0.3 * fh, cx + 0.2 * fw, IMAGE_SIZE[1]), fill=_shade(skin, 0.85))
    d.ellipse(box(cx - 1.1 * fw, g.chin + 0.12 * fh, cx + 1.1 * fw, IMAGE_SIZE[1] + 1.2 * fh), fill=shirt)
    for ex in (g.left, g.right):
        d.ellipse(box(ex - 0.07 * fw, ey - 0.06 * fh, ex + 0.07 * fw, ey + 0.14 * fh), fill=_shade(skin, 0.93))
    d.ellipse(box(g.left, g.top, g.right, g.chin), fill=skin)
    if on["Male"]:
        d.polygon(g.jaw(-0.01), fill=skin)


def _draw_beard(img: Image.Image, g: _Layout, hair) -> None:
    """A darker hair-coloured beard over jaw and chin, plus a mustache."""
    cx, ey, fw, fh, box = g.cx, g.ey, g.fw, g.fh, g.box
    mask = Image.new("L", img.size, 0)
    md = ImageDraw.Draw(mask)
    md.ellipse(box(g.left, g.top, g.right, g.chin + 0.02 * fh), fill=255)
    md.polygon(g.jaw(0.01), fill=255)
    # Jaw and chin only: a beard over the whole lower face hides the cheeks and
    # makes face detectors miss many bearded faces.
    md.rectangle(box(0, 0, IMAGE_SIZE[0], ey + 0.27 * fh), fill=0)
    md.ellipse(box(cx - 0.14 * fw, ey + 0.245 * fh, cx + 0.14 * fw, ey + 0.315 * fh), fill=255)
    # Partly see-through so the jaw shading still shows, as with a real beard.
    img.paste(_shade(hair, 0.72), mask=mask.point(lambda v: v * 3 // 4))


def _draw_shading(img: Image.Image, g: _Layout, on: dict[str, bool]) -> None:
    """Cheek blush (High_Cheekbones) and soft 3-D light and shade on the face.

    Face detectors trained on photos key on the dark eye sockets, nose sides and
    head rim and on the lit forehead and nose ridge; flat cartoon faces without
    them are missed about half the time.
    """
    cx, ey, fw, fh, box = g.cx, g.ey, g.fw, g.fh, g.box
    if on["High_Cheekbones"]:
        blush = Image.new("L", img.size, 0)
        bd = ImageDraw.Draw(blush)
        for sx in (-1, 1):
            ccx = cx + sx * 0.27 * fw
            bd.ellipse(box(ccx - 0.11 * fw, ey + 0.1 * fh, ccx + 0.11 * fw, ey + 0.2 * fh), fill=150)
        img.paste((225, 85, 95), mask=_soft(blush, 3))

    shade = Image.new("L", img.size, 0)
    sd = ImageDraw.Draw(shade)
    sd.ellipse(box(g.left, g.top, g.right, g.chin), fill=120)
    sd.ellipse(box(g.left + 0.12 * fw, g.top + 0.08 * fh, g.right - 0.12 * fw, g.chin - 0.1 * fh), fill=0)
    for sx in (-1, 1):
        ex, nx = cx + sx * 0.21 * fw, cx + sx * 0.06 * fw
        sd.ellipse(box(ex - 0.14 * fw, ey - 0.09 * fh, ex + 0.14 * fw, ey + 0.06 * fh), fill=110)
        sd.ellipse(box(nx - 0.03 * fw, ey + 0.02 * fh, nx + 0.03 * fw, ey + 0.2 * fh), fill=90)
    sd.ellipse(box(cx - 0.09 * fw, ey + 0.19 * fh, cx + 0.09 * fw, ey + 0.25 * fh), fill=110)  # under the nose
    sd.ellipse(box(cx - 0.12 * fw, ey + 0.39 * fh, cx + 0.12 * fw, ey + 0.44 * fh), fill=90)  # under the lip
    sd.rectangle(box(cx - 0.2 * fw, g.chin - 0.02 * fh, cx + 0.2 * fw, g.chin + 0.07 * fh), fill=140)  # neck
    img.paste((35, 18, 10), mask=_soft(shade, 3))

    light = Image.new("L", img.size, 0)
    ld = ImageDraw.Draw(light)
    ld.ellipse(box(cx - 0.2 * fw, ey - 0.3 * fh, cx + 0.2 * fw, ey - 0.12 * fh), fill=70)  # forehead
    ld.ellipse(box(cx - 0.025 * fw, ey - 0.02 * fh, cx + 0.025 * fw, ey + 0.18 * fh), fill=90)  # nose ridge
    for sx in (-1, 1):
        kx = cx + sx * 0.22 * fw
        ld.ellipse(box(kx - 0.09 * fw, ey + 0.07 * fh, kx + 0.09 * fw, ey + 0.15 * fh), fill=60)
    img.paste((255, 245, 235), mask=_soft(light, 2.5))


def _draw_hair(d: ImageDraw.ImageDraw, g: _Layout, on: dict[str, bool], hair) -> float:
    """Hair cap over the head down to the hairline (low with Bangs), and side locks; returns the hairline y."""
    cx, ey, fw, fh, box = g.cx, g.ey, g.fw, g.fh, g.box
    hairline = ey - (0.14 if on["Bangs"] else 0.26) * fh
    cap_top = g.top - (0.03 if on["Male"] else 0.07) * fh
    cap_half = hairline - cap_top
    cap_w = 0.53 * fw if on["Male"] else 0.57 * fw
    d.chord(box(cx - cap_w, hairline - cap_half, cx + cap_w, hairline + cap_half), 180, 360, fill=hair)
    # Short sideburns for men, locks down past the cheeks for women.
    side_bottom = ey + (0.0 if on["Male"] else 0.3) * fh
    for sx in (-1, 1):
        x_outer, x_inner = cx + sx * cap_w, cx + sx * 0.42 * fw
        d.polygon(
            g.pts((x_outer, hairline - 1), (x_inner, hairline - 1), (x_inner + sx * 0.03 * fw, ey - 0.1 * fh),
                  (x_outer, side_bottom)),
            fill=hair,
        )
    return hairline


def _draw_wrinkles(d: ImageDraw.ImageDraw, g: _Layout, skin, hairline: float) -> None:
    """Forehead lines (where the hair leaves room) and nasolabial folds: the visible cue for Young = -1."""
    cx, ey, fw, fh, box = g.cx, g.ey, g.fw, g.fh, g.box
    wrinkle = _shade(skin, 0.72)
    for k in range(2):
        yy = hairline + (0.04 + 0.04 * k) * fh
        if yy < ey - 0.12 * fh:
            d.arc(box(cx - 0.2 * fw, yy, cx + 0.2 * fw, yy + 0.05 * fh), 200, 340, fill=wrinkle, width=_THIN)
    for sx in (-1, 1):
        d.line(g.pts((cx + sx * 0.12 * fw, ey + 0.16 * fh), (cx + sx * 0.18 * fw, ey + 0.3 * fh)), fill=wrinkle, width=_THIN)


def _draw_eyes(d: ImageDraw.ImageDraw, g: _Layout, on: dict[str, bool], iris, brow, rng) -> None:
    """Sclera, coloured iris, pupil and a dark upper lid for each eye (narrower when smiling); brows above."""
    cx, ey, fw, fh, box = g.cx, g.ey, g.fw, g.fh, g.box
    eye_dx, eye_w, eye_h = 0.21 * fw, 0.105 * fw, 0.055 * fw * (0.8 if on["Smiling"] else 1.0)
    look = rng.uniform(-0.02, 0.02) * fw  # gaze direction
    brow_t = (0.028 if on["Male"] else 0.02) * fw
    for sx in (-1, 1):
        ex = cx + sx * eye_dx
        # Off-white sclera: a pure white one outshines pale skin and weakens detection.
        d.ellipse(box(ex - eye_w, ey - eye_h, ex + eye_w, ey + eye_h), fill=(226, 222, 215))
        r = 0.055 * fw
        d.ellipse(box(ex + look - r, ey - r, ex + look + r, ey + r), fill=iris)
        r = 0.022 * fw
        d.ellipse(box(ex + look - r, ey - r, ex + look + r, ey + r), fill=(10, 10, 10))
        d.arc(box(ex - eye_w, ey - eye_h, ex + eye_w, ey + eye_h), 180, 360, fill=(30, 18, 14), width=int(2 * _SS))
        by = ey - 0.11 * fh
        d.line(
            g.pts((ex - sx * 0.1 * fw, by + 0.01 * fh), (ex + sx * 0.02 * fw, by - 0.012 * fh), (ex + sx * 0.12 * fw, by)),
            fill=brow, width=int(brow_t * _SS), joint="curve",
        )


def _draw_nose(d: ImageDraw.ImageDraw, g: _Layout, skin) -> None:
    """A shaded ridge line, the curve of the nose tip and dark nostrils."""
    cx, ey, fw, fh, box = g.cx, g.ey, g.fw, g.fh, g.box
    nose = _shade(skin, 0.7)
    ny = ey + 0.2 * fh
    d.line(g.pts((cx + 0.01 * fw, ey + 0.03 * fh), (cx + 0.035 * fw, ny - 0.01 * fh)), fill=nose, width=_THIN)
    d.arc(box(cx - 0.08 * fw, ny - 0.04 * fh, cx + 0.08 * fw, ny + 0.01 * fh), 20, 160, fill=nose, width=max(1, int(1.3 * _SS)))
    for sx in (-1, 1):
        nx = cx + sx * 0.035 * fw
        d.ellipse(box(nx - 0.022 * fw, ny - 0.012 * fh, nx + 0.022 * fw, ny + 0.006 * fh), fill=_shade(skin, 0.45))


def _draw_mouth(d: ImageDraw.ImageDraw, g: _Layout, on: dict[str, bool], skin, rng) -> None:
    """Closed straight lips, or a wide open curved smile with teeth; red with lipstick, thick with Big_Lips."""
    cx, ey, fw, fh, box = g.cx, g.ey, g.fw, g.fh, g.box
    if on["Wearing_Lipstick"]:
        lip = _jitter(rng, (200, 25, 55), 15)
    else:  # natural lips: darkened skin pulled towards a muted pink
        lip = tuple(int(0.6 * c + 0.4 * t) for c, t in zip(_shade(skin, 0.8), (170, 80, 80)))
    thick = (0.045 if on["Big_Lips"] else 0.025) * fh
    my = ey + 0.33 * fh
    if on["Smiling"]:
        mw = 0.2 * fw
        d.chord(box(cx - mw - thick, my - 0.07 * fh - thick, cx + mw + thick, my + 0.1 * fh + thick), 0, 180, fill=lip)
        d.chord(box(cx - mw, my - 0.07 * fh, cx + mw, my + 0.1 * fh), 0, 180, fill=(70, 15, 20))
        d.chord(box(cx - mw * 0.92, my - 0.05 * fh, cx + mw * 0.92, my + 0.08 * fh), 0, 180, fill=(70, 15, 20))
        d.rectangle(box(cx - mw * 0.85, my + 0.01 * fh, cx + mw * 0.85, my + 0.035 * fh), fill=(240, 238, 228))  # teeth
        d.line(
            g.pts((cx - mw - thick, my + 0.015 * fh), (cx + mw + thick, my + 0.015 * fh)),
            fill=lip, width=max(1, int(thick * 0.6 * _SS)),
        )
    else:
        mw = 0.15 * fw
        d.ellipse(box(cx - mw, my - thick, cx + mw, my + 0.005 * fh), fill=_shade(lip, 0.95))
        d.ellipse(box(cx - mw * 0.9, my - 0.005 * fh, cx + mw * 0.9, my + thick * 1.1), fill=lip)
        d.line(g.pts((cx - mw, my), (cx + mw, my)), fill=_shade(lip, 0.5), width=max(1, int(1.2 * _SS)))


def _draw_glasses(d: ImageDraw.ImageDraw, g: _Layout, rng) -> None:
    """Dark rounded frames round both eyes, a bridge and arms to the ears."""
    cx, ey, fw, fh, box = g.cx, g.ey, g.fw, g.fh, g.box
    frame = _jitter(rng, (20, 20, 25), 15)
    width = max(2, int(2.4 * _SS))
    eye_dx, gx, gy = 0.21 * fw, 0.13 * fw, 0.075 * fh
    for sx in (-1, 1):
        ex = cx + sx * eye_dx
        d.rounded_rectangle(box(ex - gx, ey - gy, ex + gx, ey + gy * 0.9), radius=0.05 * fw * _SS, outline=frame, width=width)
        d.line(g.pts((ex + sx * gx, ey - 0.3 * gy), (cx + sx * 0.5 * fw, ey - 0.4 * gy)), fill=frame, width=width)
    d.line(g.pts((cx - eye_dx + gx, ey - 0.2 * gy), (cx + eye_dx - gx, ey - 0.2 * gy)), fill=frame, width=width)


def _geometry(rng: np.random.Generator, on: dict[str, bool]) -> tuple[_Layout, float]:
    """The face's layout and tilt (degrees), drawn right after the attributes."""
    W, _ = IMAGE_SIZE
    # Roughly centred with eyes near y=110, as in CelebA's aligned crops, plus jitter.
    cx = W / 2 + rng.uniform(-4, 4)
    ey = 110 + rng.uniform(-4, 4)
    fw = rng.uniform(82, 100) * (1.04 if on["Male"] else 1.0)
    g = _Layout(cx=cx, ey=ey, fw=fw, fh=fw * rng.uniform(1.25, 1.35))
    return g, rng.uniform(-6, 6)


def face_landmarks(seed: int, index: int) -> tuple[int, ...]:
    """CelebA's five landmarks of face `index` (lefteye, righteye, nose, leftmouth, rightmouth,
    x then y, rounded to pixels as CelebA's list_landmarks_align_celeba): where render_face
    drew the eye centres, the nose tip and the mouth corners, turned with the head's tilt."""
    rng = np.random.default_rng([seed, index])  # the same draws as render_face, up to the tilt
    on = {name: value == 1 for name, value in _sample_attributes(rng).items()}
    g, angle = _geometry(rng, on)
    mw = (0.2 if on["Smiling"] else 0.15) * g.fw  # _draw_mouth's half width
    my = g.ey + 0.33 * g.fh
    points = [(g.cx - 0.21 * g.fw, g.ey), (g.cx + 0.21 * g.fw, g.ey), (g.cx, g.ey + 0.2 * g.fh), (g.cx - mw, my), (g.cx + mw, my)]
    t = math.radians(angle)  # PIL's rotate about the eye centre, as render_face's box
    out = []
    for x, y in points:
        dx, dy = x - g.cx, y - g.ey
        out += [round(g.cx + dx * math.cos(t) + dy * math.sin(t)), round(g.ey - dx * math.sin(t) + dy * math.cos(t))]
    return tuple(out)


def render_face(seed: int, index: int) -> tuple[Image.Image, dict[str, int], tuple[int, int, int, int]]:
    """Draw face number ``index`` of the set with ``seed``.

    Returns the RGB image (178x218), its attributes (every name in ATTRIBUTES mapped
    to -1 or 1) and the true face box (x1, y1, x2, y2) in pixels: the head from cheek
    to cheek and from the upper forehead to the chin, as a face detector reports it.
    """
    # Seeding with (seed, index) makes face i the same whatever the number of faces.
    rng = np.random.default_rng([seed, index])
    attrs = _sample_attributes(rng)
    on = {name: value == 1 for name, value in attrs.items()}
    hair_name = next(name for name in HAIR_ATTRIBUTES if on[name])
    W, H = IMAGE_SIZE

    g, angle = _geometry(rng, on)
    cx, ey, fw = g.cx, g.ey, g.fw

    bg = tuple(int(v) for v in rng.integers(20, 236, 3))
    skin = _PALE_RGB if on["Pale_Skin"] else _SKIN_RGB[rng.integers(len(_SKIN_RGB))]
    skin = _jitter(rng, skin, 10)
    hair = _jitter(rng, _HAIR_RGB[hair_name], 14)
    shirt = tuple(int(v) for v in rng.integers(0, 256, 3))
    iris = _jitter(rng, _IRIS_RGB[rng.integers(len(_IRIS_RGB))], 15)
    # Light hair would give invisible brows, so blond and gray brows are darker.
    brow = _shade(hair, 0.6) if hair_name in ("Blond_Hair", "Gray_Hair") else _shade(hair, 0.9)

    img = Image.new("RGB", (W * _SS, H * _SS), bg)
    d = ImageDraw.Draw(img)
    _draw_head(d, g, on, skin, hair, shirt, rng)
    if not on["No_Beard"]:
        _draw_beard(img, g, hair)
    _draw_shading(img, g, on)
    hairline = _draw_hair(d, g, on, hair)
    if not on["Young"]:
        _draw_wrinkles(d, g, skin, hairline)
    _draw_eyes(d, g, on, iris, brow, rng)
    _draw_nose(d, g, skin)
    _draw_mouth(d, g, on, skin, rng)
    if on["Eyeglasses"]:
        _draw_glasses(d, g, rng)

    # Small head tilt about the eye centre; the plain background fills the corners.
    img = img.rotate(angle, resample=Image.BILINEAR, center=(cx * _SS, ey * _SS), fillcolor=bg)
    img = img.resize((W, H), Image.BOX).filter(ImageFilter.GaussianBlur(0.5))
    pixels = np.asarray(img, dtype=np.float32) + rng.normal(0, 3, (H, W, 3)).astype(np.float32)
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")

    # True box: cheek to cheek just inside the head ellipse, from the upper forehead to
    # just below the chin, the region MTCNN reports (offsets fitted to its boxes on these
    # drawings); moved with the tilt, size kept since the tilt is small.
    bx1, by1 = g.left + 0.045 * fw, ey - 0.35 * g.fh
    bx2, by2 = g.right - 0.045 * fw, g.chin + 0.03 * g.fh
    bcx, bcy = (bx1 + bx2) / 2, (by1 + by2) / 2
    t = math.radians(angle)
    rcx = cx + (bcx - cx) * math.cos(t) + (bcy - ey) * math.sin(t)
    rcy = ey - (bcx - cx) * math.sin(t) + (bcy - ey) * math.cos(t)
    hw, hh = (bx2 - bx1) / 2, (by2 - by1) / 2
    return img, attrs, (round(rcx - hw), round(rcy - hh), round(rcx + hw), round(rcy + hh))


def write_synthetic(out_dir: Path, count: int, seed: int, progress: bool = True) -> None:
    """Write ``count`` synthetic faces in CelebA's layout under ``out_dir``.

    Creates out_dir/images/000001.jpg ... (JPEG quality 95), out_dir/attributes.csv in
    CelebA's format (``image_id,<attr>,...`` with values -1/1), out_dir/true_boxes.csv
    (``image_id,x1,y1,x2,y2``) and out_dir/landmarks.csv (Kaggle's list_landmarks_align_celeba.csv). The same seed and count give byte-identical files.
    Shows a tqdm progress bar over the images when ``progress`` is True.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    attr_rows = ["image_id," + ",".join(ATTRIBUTES)]
    box_rows = ["image_id,x1,y1,x2,y2"]
    landmark_rows = ["image_id," + ",".join(LANDMARKS)]
    for i in tqdm(range(count), desc="synthetic faces", unit="img", disable=not progress):
        img, attrs, (x1, y1, x2, y2) = render_face(seed, i)
        name = f"{i + 1:06d}.jpg"
        img.save(images / name, format="JPEG", quality=_JPEG_QUALITY)
        attr_rows.append(name + "," + ",".join(str(attrs[n]) for n in ATTRIBUTES))
        box_rows.append(f"{name},{x1},{y1},{x2},{y2}")
        landmark_rows.append(name + "," + ",".join(map(str, face_landmarks(seed, i))))
    (out_dir / "attributes.csv").write_text("\n".join(attr_rows) + "\n", encoding="utf-8")
    (out_dir / "true_boxes.csv").write_text("\n".join(box_rows) + "\n", encoding="utf-8")
    (out_dir / "landmarks.csv").write_text("\n".join(landmark_rows) + "\n", encoding="utf-8")
