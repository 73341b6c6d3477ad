"""The content security policy's image sources for the map's tile servers, Chinese ones included."""

from __future__ import annotations

import pytest

from dispatcher.headers import content_security_policy, tile_source


@pytest.mark.parametrize(("template", "source"), [
    ("https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=KEY", "https://*.tianditu.gov.cn"),
    ("https://webrd0{s}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}", "https://*.is.autonavi.com"),
    ("https://{s}.tile.example/{z}/{x}/{y}.png", "https://*.tile.example"),
    ("http://tiles.town.local:8081/{z}/{x}/{y}.png", "http://tiles.town.local:8081"),
    ("https://a.{s}.example/{z}/{x}/{y}.png", "https:"),  # CSP allows a wildcard only as the first label
    (None, None),
])
def test_a_tile_template_becomes_one_image_source(template: str | None, source: str | None) -> None:
    assert tile_source(template) == source


def test_the_policy_allows_no_inline_script_or_style_and_no_framing() -> None:
    policy = dict(d.split(" ", 1) for d in content_security_policy(["https://*.tianditu.gov.cn"]).split("; "))
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self' data: blob: https://*.tianditu.gov.cn"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
