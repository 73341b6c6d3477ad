"""Draws the phone page's icons (dispatcher/web/worker/icons/): a blue tile with a white
street grid and a red pin on one block. Run once when the design changes; the PNGs are kept.

    python scripts/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "dispatcher/web/worker/icons"


def icon(size: int, rounded: bool) -> Image.Image:
    scale = 4  # drawn large, scaled down: smooth edges
    s = size * scale
    image = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    box = (0, 0, s - 1, s - 1)
    if rounded:
        draw.rounded_rectangle(box, radius=s // 5, fill="#1f4e8c")
    else:
        draw.rectangle(box, fill="#1f4e8c")  # maskable / iOS: the platform rounds it
    margin, line = s * 0.22, max(scale, s // 40)
    for k in range(4):  # a 3x3 grid of blocks
        v = margin + k * (s - 2 * margin) / 3
        draw.line([(margin, v), (s - margin, v)], fill="white", width=line)
        draw.line([(v, margin), (v, s - margin)], fill="white", width=line)
    cx, cy, r = s * 0.61, s * 0.44, s * 0.09  # the pin on the middle-right block
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill="#e0412f")
    draw.polygon([(cx - r * 0.8, cy + r * 0.5), (cx + r * 0.8, cy + r * 0.5), (cx, cy + r * 2.2)], fill="#e0412f")
    draw.ellipse([cx - r * 0.4, cy - r * 0.4, cx + r * 0.4, cy + r * 0.4], fill="white")
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    icon(192, True).save(OUT / "icon-192.png")
    icon(512, True).save(OUT / "icon-512.png")
    icon(512, False).save(OUT / "icon-maskable-512.png")
    icon(180, False).convert("RGB").save(OUT / "apple-touch-icon.png")


if __name__ == "__main__":
    main()
