"""The line burnt into every evidence image, in the town's words and local time:

    2026-12-04 09:58:01 非机动车乱停放（0506）东街3号 cam-017 · 发现 · 已停留 5 分钟

OpenCV draws no CJK glyphs, so the line is drawn with Pillow in a CJK font the edge installs
(Debian ``fonts-wqy-microhei``; the Docker images carry it). Without one, a Chinese caption
would be boxes: the caption is then drawn in English and the missing font is logged, once.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from contract import ViolationEvent
from i18n import N_, Locale, translator
from i18n.terms import term
from i18n.timefmt import stamp

log = logging.getLogger(__name__)

CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/System/Library/Fonts/PingFang.ttc"),
)
STAGES = {"opened": N_("found"), "updated": N_("still there"), "cleared": N_("cleared")}


@functools.cache
def cjk_font(configured: Path | None = None) -> Path | None:
    """The configured font, else the first CJK font installed; None when there is none."""
    for path in ((configured,) if configured else CJK_FONTS):
        if path is not None and path.exists():
            return path
    return None


@functools.cache
def _font(path: Path | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(str(path), size) if path else ImageFont.load_default(size)


@functools.cache
def _warn_no_font(configured: Path | None) -> None:
    where = f"evidence.caption_font {configured} does not exist" if configured else "no CJK font is installed"
    log.error("%s: evidence captions are drawn in English (install fonts-wqy-microhei)", where)


class Captioner:
    """Writes one camera box's captions: its language, time zone and font."""

    def __init__(self, locale: Locale = "zh-CN", timezone: str = "Asia/Shanghai", font: Path | None = None) -> None:
        self.font = cjk_font(font)
        if self.font is None and locale != "en":
            _warn_no_font(font)
            locale = "en"
        self.tr = translator(locale)
        self.timezone = timezone

    def text(self, event: ViolationEvent, place: str | None, before_at: datetime | None = None) -> str:
        """The caption of ``event``'s snapshot (or, with ``before_at``, of its before image)."""
        tr = self.tr
        kind = term(tr, "kind", event.kind.value)
        where = " ".join(p for p in (place, event.camera_id) if p)
        if before_at is not None:
            return tr._("{time} {kind} {where} · before", time=stamp(before_at, self.timezone), kind=kind,
                        where=where)
        return tr._("{time} {kind} {where} · {stage} · standing {minutes} min", time=stamp(event.observed_at,
                    self.timezone), kind=kind, where=where, stage=tr._(STAGES[event.state.value]),
                    minutes=round(event.dwell_s / 60))

    def draw(self, image: np.ndarray, text: str) -> np.ndarray:
        """``image`` (BGR) with ``text`` on a dark strip across its top; the strip's height
        follows the image's width, the text shrinks to fit, never cut."""
        height, width = image.shape[:2]
        size = max(10, min(28, width // 48))
        font = _font(self.font, size)
        while size > 8 and font.getlength(text) > width - 8:
            size -= 1
            font = _font(self.font, size)
        strip_h = size + size // 2 + 4
        strip = Image.new("RGB", (width, strip_h), (0, 0, 0))
        ImageDraw.Draw(strip).text((4, 2), text, font=font, fill=(255, 255, 255))
        out = image.copy()
        rows = min(strip_h, height)
        out[:rows] = np.asarray(strip)[:rows, :, ::-1]  # RGB → BGR
        return out


@functools.cache
def default_captioner() -> Captioner:
    """Chinese, Beijing time, the first CJK font installed: a box's defaults."""
    return Captioner()
