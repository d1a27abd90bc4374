"""Demo covers: a landscape in the category's colours with a motif (houses and bunting, a
bike, a fridge, a drill...), drawn with Pillow so the repository ships no image files.

`cover_image(category, key, motif=...)` returns JPEG bytes; `key` (the campaign's slug) makes
each picture its own and the same on every run.
"""

import math
import random
from io import BytesIO

from PIL import Image, ImageDraw, ImageOps

COVER_SIZE = (1200, 675)
_SCALE = 2  # drawn at twice the size and reduced: smooth edges without an anti-aliasing library

# sky top, sky bottom, far hill, near hill, ground, sun, five accents
PALETTES = {
    "community": (
        (255, 214, 165),
        (255, 241, 222),
        (246, 189, 140),
        (230, 160, 120),
        (196, 128, 98),
        (255, 244, 214),
        [(231, 111, 81), (42, 157, 143), (233, 196, 106), (38, 70, 83), (244, 162, 97)],
    ),
    "food": (
        (168, 218, 220),
        (241, 250, 238),
        (152, 200, 140),
        (112, 173, 112),
        (121, 85, 61),
        (255, 230, 140),
        [(76, 149, 80), (230, 57, 70), (255, 183, 3), (106, 153, 78), (56, 102, 65)],
    ),
    "mobility": (
        (144, 224, 239),
        (202, 240, 248),
        (129, 178, 154),
        (82, 183, 136),
        (64, 145, 108),
        (255, 238, 170),
        [(3, 4, 94), (0, 119, 182), (255, 107, 107), (30, 30, 40), (255, 209, 102)],
    ),
    "arts": (
        (45, 27, 78),
        (230, 125, 110),
        (92, 56, 110),
        (60, 40, 86),
        (40, 28, 60),
        (255, 220, 160),
        [(255, 214, 102), (255, 255, 255), (239, 71, 111), (6, 214, 160), (17, 138, 178)],
    ),
    "environment": (
        (173, 232, 244),
        (237, 246, 249),
        (183, 228, 199),
        (116, 198, 157),
        (64, 145, 108),
        (255, 240, 170),
        [(45, 106, 79), (27, 67, 50), (255, 255, 255), (2, 62, 138), (82, 183, 136)],
    ),
    "sport": (
        (255, 221, 210),
        (255, 236, 228),
        (255, 183, 161),
        (233, 140, 120),
        (111, 111, 130),
        (255, 245, 215),
        [(244, 140, 6), (55, 6, 23), (255, 255, 255), (3, 7, 30), (220, 47, 2)],
    ),
    "education": (
        (205, 180, 219),
        (255, 230, 240),
        (189, 224, 254),
        (162, 210, 255),
        (142, 122, 181),
        (255, 236, 190),
        [(239, 71, 111), (255, 209, 102), (6, 214, 160), (17, 138, 178), (7, 59, 76)],
    ),
    "health": (
        (255, 200, 221),
        (255, 240, 245),
        (189, 224, 254),
        (162, 210, 255),
        (130, 180, 150),
        (255, 240, 200),
        [(230, 57, 70), (255, 255, 255), (69, 123, 157), (29, 53, 87), (241, 250, 238)],
    ),
    "housing": (
        (42, 54, 99),
        (247, 178, 103),
        (84, 94, 130),
        (60, 70, 110),
        (50, 55, 80),
        (255, 236, 190),
        [(242, 132, 130), (245, 202, 195), (132, 165, 157), (246, 189, 96), (255, 230, 150)],
    ),
    "other": (
        (220, 210, 200),
        (250, 245, 240),
        (200, 185, 170),
        (175, 155, 140),
        (140, 115, 95),
        (255, 240, 210),
        [(111, 78, 55), (255, 255, 255), (200, 150, 100), (60, 40, 30), (230, 200, 160)],
    ),
}


def cover_image(category, key, *, motif=""):
    """JPEG bytes: a gradient landscape with a motif for the category, varied by `key`."""
    rng = random.Random(key)
    sky_top, sky_bottom, far, near, ground, sun, accents = PALETTES.get(category, PALETTES["other"])
    w, h = COVER_SIZE[0] * _SCALE, COVER_SIZE[1] * _SCALE
    mask = Image.linear_gradient("L").resize((w, h), Image.Resampling.BILINEAR)
    image = Image.composite(
        Image.new("RGB", (w, h), sky_bottom), Image.new("RGB", (w, h), sky_top), mask
    )
    d = ImageDraw.Draw(image, "RGBA")  # RGBA drawing on an RGB image blends
    for _ in range(12):
        r = rng.randint(40, 160) * _SCALE
        x, y = rng.randint(0, w), rng.randint(0, int(h * 0.55))
        d.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, rng.randint(14, 40)))
    sx, sy, sr = int(w * rng.uniform(0.74, 0.88)), int(h * 0.2), 78 * _SCALE
    d.ellipse((sx - sr * 1.5, sy - sr * 1.5, sx + sr * 1.5, sy + sr * 1.5), fill=(*sun, 60))
    d.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=sun)
    d.ellipse((-0.25 * w, 0.6 * h, 0.75 * w, 1.5 * h), fill=far)
    d.ellipse((0.35 * w, 0.64 * h, 1.35 * w, 1.6 * h), fill=near)
    d.rectangle((0, 0.84 * h, w, h), fill=ground)
    if rng.random() < 0.5:  # vary the landscape, not the motif (a mirrored "play" looks wrong)
        image = ImageOps.mirror(image)
        d = ImageDraw.Draw(image, "RGBA")
    _MOTIFS.get(motif or category, _other)(d, w, h, accents, rng)
    out = image.reduce(_SCALE)
    buffer = BytesIO()
    out.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def _house(d, x, base, width, height, body, roof, window, door=True):
    d.rectangle((x, base - height, x + width, base), fill=body)
    d.polygon(
        [
            (x - width * 0.1, base - height),
            (x + width / 2, base - height - width * 0.55),
            (x + width * 1.1, base - height),
        ],
        fill=roof,
    )
    size = width * 0.2
    for fx in (0.18, 0.62):
        top = base - height * 0.8
        d.rectangle((x + width * fx, top, x + width * fx + size, top + size), fill=window)
    if door:
        d.rectangle((x + width * 0.4, base - height * 0.38, x + width * 0.6, base), fill=roof)


def _bunting(d, x0, x1, y, sag, colors, size):
    n = 14
    points = [(x0 + (x1 - x0) * i / n, y + sag * 4 * (i / n) * (1 - i / n)) for i in range(n + 1)]
    d.line(points, fill=(60, 60, 60, 200), width=4)
    for i in range(n):
        (ax, ay), (bx, by) = points[i], points[i + 1]
        d.polygon(
            [(ax + 6, ay), (bx - 6, by), ((ax + bx) / 2, (ay + by) / 2 + size)],
            fill=colors[i % len(colors)],
        )


def _community(d, w, h, c, rng):
    base, x = 0.86 * h, 0.12 * w
    for i, fraction in enumerate([0.15, 0.12, 0.17, 0.13]):
        height = rng.uniform(0.22, 0.3) * h
        _house(d, x, base, fraction * w, height, c[(i + 2) % 5], c[i % 5], (255, 250, 235))
        x += (fraction + 0.04) * w
    _bunting(d, 0.05 * w, 0.95 * w, 0.12 * h, 0.14 * h, c, 0.05 * h)


def _food(d, w, h, c, rng):
    base = 0.9 * h
    for i in range(3):
        x0 = (0.08 + i * 0.31) * w
        x1 = x0 + 0.25 * w
        for j in range(rng.randint(4, 6)):
            px = x0 + (j + 0.6) * (x1 - x0) / 6.2
            top = base - 0.12 * h - rng.uniform(0.04, 0.16) * h
            d.line([(px, base - 0.1 * h), (px, top)], fill=c[4], width=10)
            for k in range(3):
                ly = top + k * 0.035 * h
                d.ellipse((px - 46, ly - 18, px, ly + 18), fill=c[0])
                d.ellipse((px, ly - 4, px + 46, ly + 32), fill=c[3])
            if rng.random() < 0.5:
                d.ellipse((px - 20, top - 20, px + 20, top + 20), fill=c[1 + (j % 2)])
        d.rectangle((x0, base - 0.11 * h, x1, base), fill=(139, 94, 60))
        d.rectangle((x0, base - 0.11 * h, x1, base - 0.09 * h), fill=(160, 112, 74))


def _wheel(d, cx, cy, r, color):
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=color, width=int(r * 0.12))
    for angle in range(0, 360, 30):
        rad = math.radians(angle)
        end = (cx + math.cos(rad) * r * 0.9, cy + math.sin(rad) * r * 0.9)
        d.line([(cx, cy), end], fill=color, width=4)
    d.ellipse((cx - r * 0.1, cy - r * 0.1, cx + r * 0.1, cy + r * 0.1), fill=color)


def _mobility(d, w, h, c, rng):
    r = 0.16 * h
    cy = 0.84 * h - r
    back, front = (0.36 * w, cy), (0.64 * w, cy)
    _wheel(d, *back, r, c[3])
    _wheel(d, *front, r, c[3])
    pedal, seat, head = (0.48 * w, cy), (0.43 * w, cy - 1.35 * r), (0.6 * w, cy - 1.35 * r)
    for a, b in [(back, pedal), (pedal, seat), (back, seat), (seat, head), (pedal, head)]:
        d.line([a, b], fill=c[2], width=22)
    d.line([head, front], fill=c[2], width=22)
    d.rounded_rectangle((seat[0] - 60, seat[1] - 26, seat[0] + 50, seat[1] + 4), 14, fill=c[3])
    d.line([head, (head[0] + 30, head[1] - 70)], fill=c[3], width=18)
    d.line([(head[0] + 5, head[1] - 70), (head[0] + 90, head[1] - 80)], fill=c[3], width=18)
    d.rectangle((head[0] - 120, head[1] - 10, head[0] - 20, head[1] + 60), fill=c[4])
    for i in range(5):
        x = (0.05 + i * 0.2) * w
        d.rounded_rectangle((x, 0.9 * h, x + 0.1 * w, 0.92 * h), 8, fill=(255, 255, 255, 180))


def _arts(d, w, h, c, rng):
    for _ in range(40):
        x, y, r = rng.uniform(0, w), rng.uniform(0, 0.45 * h), rng.uniform(2, 6)
        d.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 200))
    x0, x1, y0, y1 = 0.26 * w, 0.74 * w, 0.2 * h, 0.62 * h
    d.polygon([(0.5 * w, 0.95 * h), (x0, y1), (x1, y1)], fill=(255, 240, 200, 40))
    for x in (x0 + 30, x1 - 30):
        d.line([(x, y1), (x, 0.86 * h)], fill=(30, 20, 40), width=18)
    d.rounded_rectangle((x0 - 24, y0 - 24, x1 + 24, y1 + 24), 20, fill=(30, 20, 40))
    d.rectangle((x0, y0, x1, y1), fill=(250, 246, 235))
    d.ellipse((0.44 * w, 0.3 * h, 0.56 * w, 0.5 * h), fill=c[2])
    d.polygon([(0.48 * w, 0.34 * h), (0.48 * w, 0.46 * h), (0.535 * w, 0.4 * h)], fill="white")
    lights = [(i / 20 * w, 0.1 * h + 0.06 * h * math.sin(i / 10 * math.pi)) for i in range(21)]
    d.line(lights, fill=(20, 10, 30), width=4)
    for i, (x, y) in enumerate(lights):
        d.ellipse((x - 14, y + 4, x + 14, y + 32), fill=c[0] if i % 5 == 1 else c[i % 5])
    for i in range(9):  # the audience
        x = (0.1 + i * 0.1) * w
        d.ellipse((x - 40, 0.84 * h, x + 40, 0.92 * h), fill=(20, 12, 32))
        d.ellipse((x - 26, 0.79 * h, x + 26, 0.86 * h), fill=(20, 12, 32))


def _tree(d, x, base, size, leaf, trunk):
    d.rectangle((x - size * 0.08, base - size * 0.9, x + size * 0.08, base), fill=trunk)
    for dx, dy, r in [(-0.25, -0.95, 0.32), (0.25, -0.95, 0.32), (0, -1.25, 0.38)]:
        cx, cy, rr = x + dx * size, base + dy * size, r * size
        d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=leaf)


def _environment(d, w, h, c, rng):
    tx, hub, base = 0.7 * w, 0.3 * h, 0.86 * h
    d.line([(tx, base), (tx, hub)], fill=(250, 250, 250), width=26)
    start = rng.uniform(0, 120)
    for k in range(3):
        a = math.radians(start + k * 120)
        tip = (tx + math.cos(a) * 0.26 * h, hub + math.sin(a) * 0.26 * h)
        side = (tx + math.cos(a + 0.25) * 0.06 * h, hub + math.sin(a + 0.25) * 0.06 * h)
        d.polygon([(tx, hub), side, tip], fill=(255, 255, 255))
    d.ellipse((tx - 20, hub - 20, tx + 20, hub + 20), fill=(210, 210, 210))
    for i in range(3):  # solar panels
        x = (0.08 + i * 0.13) * w
        d.polygon(
            [
                (x, 0.84 * h),
                (x + 0.1 * w, 0.84 * h),
                (x + 0.13 * w, 0.72 * h),
                (x + 0.03 * w, 0.72 * h),
            ],
            fill=c[3],
        )
        d.line(
            [(x + 0.05 * w, 0.84 * h), (x + 0.08 * w, 0.72 * h)], fill=(255, 255, 255, 120), width=4
        )
    for x, size in [(0.88, 0.22), (0.52, 0.18), (0.96, 0.15)]:
        _tree(d, x * w, base, size * h, c[rng.choice([0, 4])], (110, 80, 60))


def _sport(d, w, h, c, rng):
    ramp = (90, 90, 110)
    d.rectangle((0, 0.84 * h, w, h), fill=(120, 120, 140))
    d.line([(0, 0.9 * h), (w, 0.9 * h)], fill=(255, 255, 255), width=8)
    d.pieslice((0.55 * w, 0.36 * h, 1.15 * w, 1.32 * h), 180, 270, fill=ramp)
    d.rectangle((0.85 * w, 0.36 * h, 1.0 * w, 0.86 * h), fill=ramp)
    d.line([(0.85 * w, 0.36 * h), (1.0 * w, 0.36 * h)], fill=c[0], width=16)
    cx, cy, r = 0.3 * w, 0.6 * h, 0.17 * h
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=c[0])
    d.line([(cx - r, cy), (cx + r, cy)], fill=c[1], width=10)
    d.line([(cx, cy - r), (cx, cy + r)], fill=c[1], width=10)
    d.arc((cx - r * 1.6, cy - r, cx - r * 0.2, cy + r), -60, 60, fill=c[1], width=10)
    d.arc((cx + r * 0.2, cy - r, cx + r * 1.6, cy + r), 120, 240, fill=c[1], width=10)
    bx, by = 0.28 * w, 0.82 * h  # a skateboard
    d.rounded_rectangle((bx - 0.12 * w, by - 20, bx + 0.12 * w, by + 10), 14, fill=c[4])
    for wx in (bx - 0.08 * w, bx + 0.08 * w):
        d.ellipse((wx - 22, by + 8, wx + 22, by + 52), fill=c[3])


def _education(d, w, h, c, rng):
    y = 0.86 * h
    for i in range(5):  # a stack of books
        bw, bh = rng.uniform(0.26, 0.34) * w, 0.07 * h
        x = 0.33 * w + rng.uniform(-0.03, 0.03) * w
        d.rounded_rectangle((x, y - bh, x + bw, y), 10, fill=c[i % 5])
        d.rectangle((x + bw - 24, y - bh + 10, x + bw - 10, y - 10), fill=(255, 255, 255, 200))
        y -= bh
    ax, ay, ar = 0.5 * w, y - 0.08 * h, 0.07 * h
    d.ellipse((ax - ar, ay - ar, ax + ar, ay + ar), fill=(230, 57, 70))
    d.line([(ax, ay - ar), (ax + 10, ay - 0.11 * h)], fill=(90, 60, 40), width=10)
    d.ellipse((ax + 10, ay - 0.13 * h, ax + 70, ay - 0.09 * h), fill=(80, 160, 80))
    px = 0.78 * w  # a pencil
    d.rectangle((px, 0.35 * h, px + 40, 0.78 * h), fill=c[1])
    d.polygon([(px, 0.78 * h), (px + 40, 0.78 * h), (px + 20, 0.84 * h)], fill=(240, 210, 170))
    d.rectangle((px, 0.32 * h, px + 40, 0.35 * h), fill=c[0])


def _health(d, w, h, c, rng):
    cx, cy, s = 0.5 * w, 0.45 * h, 0.2 * h  # a heart with a cross
    d.ellipse((cx - s, cy - s * 0.8, cx, cy + s * 0.2), fill=c[0])
    d.ellipse((cx, cy - s * 0.8, cx + s, cy + s * 0.2), fill=c[0])
    d.polygon(
        [(cx - s * 0.97, cy - s * 0.15), (cx + s * 0.97, cy - s * 0.15), (cx, cy + s)], fill=c[0]
    )
    cy, s = 0.42 * h, 0.05 * h
    d.rectangle((cx - s * 0.35, cy - s, cx + s * 0.35, cy + s), fill=(255, 255, 255))
    d.rectangle((cx - s, cy - s * 0.35, cx + s, cy + s * 0.35), fill=(255, 255, 255))
    path = [(0, 0.95 * h), (0.3 * w, 0.88 * h), (0.6 * w, 0.92 * h), (w, 0.86 * h)]
    d.line(path, fill=(245, 230, 200), width=36, joint="curve")
    for x, size in [(0.15, 0.14), (0.85, 0.17)]:
        _tree(d, x * w, 0.86 * h, size * h, (106, 170, 120), (110, 80, 60))


def _housing(d, w, h, c, rng):
    for _ in range(30):
        x, y = rng.uniform(0, w), rng.uniform(0, 0.35 * h)
        d.ellipse((x - 3, y - 3, x + 3, y + 3), fill=(255, 255, 255, 180))
    base, x, roof = 0.88 * h, 0.06 * w, (70, 60, 90)
    for i in range(5):
        big = i == 2
        bw = (0.17 if big else 0.13) * w
        bh = (0.36 if big else rng.uniform(0.2, 0.28)) * h
        _house(d, x, base, bw, bh, c[i % 5], roof, c[4])
        if big:  # a chimney with smoke: a warm home
            d.rectangle(
                (x + bw * 0.7, base - bh - bw * 0.45, x + bw * 0.82, base - bh - bw * 0.15),
                fill=roof,
            )
            for k in range(3):
                r, sx, sy = 16 + k * 8, x + bw * 0.76 + k * 14, base - bh - bw * 0.5 - k * 40
                d.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(255, 255, 255, 90))
        x += bw + 0.045 * w


def _other(d, w, h, c, rng):
    cx, top, bottom = 0.5 * w, 0.45 * h, 0.82 * h  # a cup of coffee
    d.ellipse((cx - 0.2 * w, bottom - 20, cx + 0.2 * w, bottom + 40), fill=(255, 255, 255))
    d.rounded_rectangle((cx - 0.11 * w, top, cx + 0.11 * w, bottom), 60, fill=c[1])
    d.ellipse((cx + 0.07 * w, top + 60, cx + 0.17 * w, top + 0.22 * h), outline=c[1], width=30)
    d.rectangle((cx - 0.11 * w, top, cx + 0.11 * w, top + 40), fill=c[0])
    for k in (-1, 0, 1):
        x = cx + k * 0.05 * w
        steam = (255, 255, 255, 200)
        d.arc((x - 30, top - 0.2 * h, x + 30, top - 0.1 * h), 90, 270, fill=steam, width=10)
        d.arc((x - 30, top - 0.1 * h, x + 30, top - 0.01 * h), 270, 90, fill=steam, width=10)


def _water(d, w, h, c, rng):
    d.rectangle((0, 0.74 * h, w, h), fill=(72, 149, 196))  # a canal, with quays
    d.rectangle((0, 0.7 * h, w, 0.74 * h), fill=(150, 120, 100))
    for row in range(4):
        y = 0.79 * h + row * 0.05 * h
        for i in range(12):
            x = (i + (row % 2) * 0.5) / 11 * w
            d.arc((x - 50, y - 14, x + 50, y + 14), 200, 340, fill=(255, 255, 255, 140), width=6)
    bx, by = 0.42 * w, 0.8 * h  # a small boat with a net
    d.polygon(
        [
            (bx - 0.16 * w, by - 0.06 * h),
            (bx + 0.16 * w, by - 0.06 * h),
            (bx + 0.12 * w, by + 0.02 * h),
            (bx - 0.12 * w, by + 0.02 * h),
        ],
        fill=c[0],
    )
    d.rectangle((bx - 0.16 * w, by - 0.07 * h, bx + 0.16 * w, by - 0.06 * h), fill=(255, 255, 255))
    d.line(
        [(bx + 0.1 * w, by - 0.06 * h), (bx + 0.22 * w, by - 0.22 * h)], fill=(90, 60, 40), width=10
    )
    d.ellipse(
        (bx + 0.19 * w, by - 0.22 * h, bx + 0.27 * w, by - 0.12 * h), outline=(90, 60, 40), width=8
    )
    for _ in range(5):  # what the net is for
        x, y = rng.uniform(0.62, 0.95) * w, rng.uniform(0.78, 0.93) * h
        d.rounded_rectangle((x, y, x + 60, y + 22), 10, fill=rng.choice(c[2:]))
    for x, size in [(0.08, 0.2), (0.9, 0.16)]:
        _tree(d, x * w, 0.7 * h, size * h, c[4], (110, 80, 60))


def _fridge(d, w, h, c, rng):
    x0, x1, y0, y1 = 0.4 * w, 0.6 * w, 0.2 * h, 0.88 * h
    d.rounded_rectangle((x0 + 16, y0 + 16, x1 + 16, y1 + 10), 40, fill=(0, 0, 0, 40))
    d.rounded_rectangle((x0, y0, x1, y1), 40, fill=(250, 250, 248))
    d.line([(x0, 0.42 * h), (x1, 0.42 * h)], fill=(200, 205, 210), width=8)
    for top, bottom in ((0.26, 0.36), (0.48, 0.62)):
        d.rounded_rectangle((x1 - 50, top * h, x1 - 30, bottom * h), 10, fill=(160, 170, 180))
    hx, hy, hs = 0.47 * w, 0.3 * h, 34  # a heart magnet
    d.ellipse((hx - hs, hy - hs * 0.8, hx, hy + hs * 0.2), fill=c[1])
    d.ellipse((hx, hy - hs * 0.8, hx + hs, hy + hs * 0.2), fill=c[1])
    d.polygon([(hx - hs, hy - hs * 0.1), (hx + hs, hy - hs * 0.1), (hx, hy + hs)], fill=c[1])
    bx, by = 0.2 * w, 0.86 * h  # a crate of vegetables and bread
    d.rectangle((bx - 0.11 * w, by - 0.1 * h, bx + 0.11 * w, by), fill=(170, 120, 75))
    for i in range(6):
        x = bx - 0.085 * w + i * 0.034 * w
        d.ellipse((x - 36, by - 0.14 * h, x + 36, by - 0.08 * h), fill=c[[1, 2, 0][i % 3]])
    d.rounded_rectangle((0.7 * w, 0.78 * h, 0.86 * w, 0.86 * h), 50, fill=(214, 160, 90))
    for i in range(4):
        x = 0.72 * w + i * 0.035 * w
        d.line([(x, 0.79 * h), (x + 30, 0.85 * h)], fill=(170, 115, 60), width=8)


def _tools(d, w, h, c, rng):
    x0, x1, y0, y1 = 0.2 * w, 0.8 * w, 0.14 * h, 0.8 * h  # a pegboard
    d.rounded_rectangle((x0, y0, x1, y1), 24, fill=(222, 184, 135))
    for i in range(1, 24):
        for j in range(1, 14):
            x, y = x0 + i * (x1 - x0) / 24, y0 + j * (y1 - y0) / 14
            d.ellipse((x - 5, y - 5, x + 5, y + 5), fill=(180, 140, 95))
    hx = 0.3 * w  # hammer
    d.rounded_rectangle((hx - 14, 0.3 * h, hx + 14, 0.7 * h), 10, fill=(150, 95, 50))
    d.rounded_rectangle((hx - 70, 0.24 * h, hx + 70, 0.32 * h), 12, fill=c[3])
    wx = 0.45 * w  # wrench
    d.line([(wx, 0.34 * h), (wx, 0.7 * h)], fill=(120, 130, 140), width=30)
    d.ellipse((wx - 50, 0.24 * h, wx + 50, 0.36 * h), fill=(120, 130, 140))
    d.rectangle((wx - 16, 0.22 * h, wx + 16, 0.28 * h), fill=(222, 184, 135))
    sx = 0.58 * w  # saw
    d.polygon(
        [(sx, 0.3 * h), (sx + 0.16 * w, 0.36 * h), (sx + 0.16 * w, 0.44 * h), (sx, 0.44 * h)],
        fill=(200, 205, 210),
    )
    for i in range(12):
        x = sx + i * 0.0133 * w
        d.polygon(
            [(x, 0.44 * h), (x + 0.0133 * w, 0.44 * h), (x + 0.0066 * w, 0.465 * h)],
            fill=(200, 205, 210),
        )
    d.rounded_rectangle((sx - 0.05 * w, 0.3 * h, sx + 10, 0.44 * h), 20, fill=c[0])
    d.rounded_rectangle((0.58 * w, 0.55 * h, 0.72 * w, 0.63 * h), 14, fill=c[4])  # a drill
    d.rounded_rectangle((0.6 * w, 0.6 * h, 0.64 * w, 0.74 * h), 10, fill=c[3])
    d.line([(0.72 * w, 0.59 * h), (0.77 * w, 0.59 * h)], fill=(120, 130, 140), width=10)


_MOTIFS = {
    "fridge": _fridge,
    "tools": _tools,
    "water": _water,
    "community": _community,
    "food": _food,
    "mobility": _mobility,
    "arts": _arts,
    "environment": _environment,
    "sport": _sport,
    "education": _education,
    "health": _health,
    "housing": _housing,
    "other": _other,
}
