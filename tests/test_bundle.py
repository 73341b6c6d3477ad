"""The demo bundle (gridpatrol/bundle.py) and the demo a stranger runs: no data folder, an empty
cache, the bundle served from a loopback HTTP server as a release serves its assets. The bundle
is made by scripts/make_demo_bundle.py from the data folder, byte for byte what the committed
manifest names."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from http_receiver import Receiver, Request

from gridpatrol.bundle import MANIFEST, BundleError, BundleFile, Manifest, fetch, load_manifest, sha256_of
from gridpatrol.data import PROJECT_ROOT

CLIP = "media/clips/shopfront-goods-768x432.mp4"
MODEL = "models/yolox-nano-coco-416.onnx"


def release(files: dict[str, bytes]) -> Receiver:
    """A release's assets by name; 404 for any other."""

    def answer(request: Request) -> tuple[int, bytes, dict[str, str]]:
        body = files.get(request.path.lstrip("/"))
        return (200, body, {"content-type": "application/octet-stream"}) if body is not None else (404, b"", {})

    return Receiver(respond=answer)


def assets(bundle: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in bundle.iterdir()}


def run_demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gridpatrol.cli", "demo", "--speed", "0"], capture_output=True,
                          text=True, timeout=300, cwd=PROJECT_ROOT, env={**os.environ, **env})


def test_the_script_makes_the_files_the_manifest_names(demo_bundle: Path) -> None:
    manifest = load_manifest()
    assert {f.path.rsplit("/", 1)[-1] for f in manifest.files} == {p.name for p in demo_bundle.iterdir()}
    for entry in manifest.files:
        made = demo_bundle / entry.path.rsplit("/", 1)[-1]
        assert (made.stat().st_size, sha256_of(made)) == (entry.size, entry.sha256), entry.path
    notice = (demo_bundle / "NOTICE.txt").read_text()
    assert "Apache License 2.0" in notice and "Creative Commons Attribution 4.0" in notice


def test_the_demo_runs_from_an_empty_cache_without_a_data_folder(demo_bundle: Path, tmp_path: Path) -> None:
    """As a person runs it: the bundle downloaded once, then in Chinese what they need (the two
    links, each case as it opens, with its local time), no log line per request; afterwards the
    cache is used and the server asked for nothing."""
    server = release(assets(demo_bundle))
    env = {"GRIDPATROL_DATA": str(tmp_path / "no-data"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "GRIDPATROL_BUNDLE_URL": server.url}
    try:
        proc = run_demo(env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lines = proc.stdout.splitlines()
        fetched = [line for line in lines if line.startswith("下载")]
        assert len(fetched) == 2 and all(server.url in line for line in fetched), lines
        assert sorted(r.path for r in server.received) == ["/shopfront-goods-768x432.mp4", "/yolox-nano-coco-416.onnx"]
        cached = tmp_path / "cache/gridpatrol/demo-bundle-1"
        assert sha256_of(cached / CLIP) == load_manifest().file(CLIP).sha256
        assert not list(cached.rglob("*.part"))
        assert any(line.startswith("网格员页面（已登录 w-017）：http://127.0.0.1:") and "#token=gp_" in line
                   for line in lines)
        assert any(line.startswith("调度台（已登录 d-01）：http://127.0.0.1:") for line in lines)
        opened = [line for line in lines if line.startswith("案件 #")]
        # the carton (put down at 50 s) and the crate (at 65 s); the carton is taken in at 110 s
        assert len(opened) == 2 and all("跨门经营" in line and "-> 网格员 w-017（mg-017）" in line for line in opened)
        assert all(re.search(r"立案 \d{1,2}月\d{1,2}日 \d\d:\d\d：", line) for line in opened), opened
        assert lines[-1] == "视频播放完毕：判定事件 3 个，立案 2 件"
        assert "HTTP Request" not in proc.stdout + proc.stderr and "INFO" not in proc.stderr

        # the next run takes the cache and asks the server for nothing
        server.received.clear()
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            said: list[str] = []
            assert fetch([MODEL, CLIP], say=said.append) == [cached / MODEL, cached / CLIP]
        assert not server.received and not said
    finally:
        server.close()


def test_a_corrupted_file_is_named_and_nothing_of_it_is_used(demo_bundle: Path, tmp_path: Path) -> None:
    files = assets(demo_bundle)
    clip = bytearray(files["shopfront-goods-768x432.mp4"])
    clip[len(clip) // 2] ^= 0xFF
    server = release({**files, "shopfront-goods-768x432.mp4": bytes(clip)})
    env = {"GRIDPATROL_DATA": str(tmp_path / "no-data"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "GRIDPATROL_BUNDLE_URL": server.url}
    try:
        proc = run_demo({**env, "LANG": "C"})
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f"{CLIP}：SHA-256" in proc.stderr and "下载的文件已损坏" in proc.stderr, proc.stderr
        assert "案件" not in proc.stdout and "消息服务" not in proc.stdout  # nothing started
        cached = tmp_path / "cache/gridpatrol/demo-bundle-1"
        assert (cached / MODEL).is_file() and not (cached / CLIP).exists() and not list(cached.rglob("*.part"))
    finally:
        server.close()


def entry_for(data: bytes, path: str = "models/tiny.onnx") -> BundleFile:
    import hashlib

    return BundleFile(path, len(data), hashlib.sha256(data).hexdigest())


def test_fetch_takes_the_data_folders_copy_the_cache_and_refuses_what_is_wrong(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"model bytes " * 1000
    entry = entry_for(data)
    manifest = Manifest("t-1", "http://127.0.0.1:9/unused", (entry,))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "data"
    monkeypatch.setenv("GRIDPATROL_DATA", str(folder))
    (folder / "models").mkdir(parents=True)
    (folder / entry.path).write_bytes(data)
    said: list[str] = []
    assert fetch([entry.path], manifest, said.append) == [folder / entry.path] and not said  # no server asked

    (folder / entry.path).write_bytes(data[:-1] + b"!")  # the data folder's copy is another file: downloaded
    server = release({"tiny.onnx": data, "long.onnx": data + b"more", "bad.onnx": data[:-1] + b"?"})
    monkeypatch.setenv("GRIDPATROL_BUNDLE_URL", server.url)
    try:
        got = fetch([entry.path], manifest, said.append)
        assert got == [tmp_path / "cache/gridpatrol/t-1" / entry.path] and got[0].read_bytes() == data
        assert len(said) == 1 and "models/tiny.onnx" in said[0] and server.url in said[0]

        for name, expected in (("long.onnx", "sent more than the 12000 bytes"),
                               ("bad.onnx", "is not the manifest's"),
                               ("none.onnx", "answered HTTP 404")):
            other = BundleFile(f"models/{name}", entry.size, entry.sha256)
            with pytest.raises(BundleError) as caught:
                fetch([other.path], Manifest("t-1", "http://x", (other,)), said.append)
            assert str(caught.value).startswith(f"models/{name}: ") and expected in str(caught.value)
            assert not (tmp_path / "cache/gridpatrol/t-1/models" / name).exists()
        assert not list((tmp_path / "cache").rglob("*.part"))
    finally:
        server.close()
    monkeypatch.setenv("GRIDPATROL_BUNDLE_URL", "file:///etc/passwd")
    with pytest.raises(BundleError, match="an http\\(s\\) address is needed"):
        fetch(["models/gone.onnx"], Manifest("t-1", "http://x", (BundleFile("models/gone.onnx", 1, "0" * 64),)))


@pytest.mark.parametrize("change, reason", [
    ({"path": "../../.bashrc"}, "is not a relative path inside the bundle"),
    ({"path": "/etc/passwd"}, "is not a relative path inside the bundle"),
    ({"sha256": "abc"}, "needs a SHA-256"),
    ({"size": 10**12}, "needs a SHA-256 and a size up to"),
])
def test_a_manifest_that_could_do_harm_is_refused(tmp_path: Path, change: dict, reason: str) -> None:
    document = json.loads(MANIFEST.read_text())
    document["files"][0].update(change)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(document))
    with pytest.raises(BundleError, match=re.escape(reason)):
        load_manifest(path)
