"""The deployment files: images lint clean (hadolint), the compose file is valid Compose
(the Compose Specification's JSON Schema), everything it mounts exists and loads with the
configs' own validators, each image's install step really gives a working half, and the
proxy's nginx config runs in a real nginx. No Docker engine runs here, so the images
themselves are not built."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest
import yaml
from websockets.sync.client import connect as ws_connect

from dispatcher.config import load_dispatcher_config
from edge.config import load_edge_config
from gridpatrol.broker import free_port, wait_port
from gridpatrol.demo import DispatcherThread

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))
COMPOSE = DOCKER / "compose.yaml"
MADE_BY_HAND = {"./mosquitto/passwords"}  # mosquitto_passwd output: secrets, never committed
ENV_DEFAULT = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_dockerfiles_lint_clean() -> None:
    assert {p.name for p in DOCKERFILES} == {"edge.Dockerfile", "edge-cuda.Dockerfile", "dispatcher.Dockerfile"}
    done = subprocess.run([tool("hadolint"), "--failure-threshold", "style", *map(str, DOCKERFILES)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_each_image_runs_as_a_numeric_non_root_user_with_a_health_check(dockerfile: Path) -> None:
    final = dockerfile.read_text().split("\nFROM ")[-1]  # the runtime stage
    user = re.search(r"^USER (\S+)", final, re.M)
    assert user and re.fullmatch(r"[1-9]\d*:[1-9]\d*", user.group(1)), "runtime stage must set USER uid:gid"
    assert re.search(r"^HEALTHCHECK .*CMD", final, re.M | re.S)


def test_the_compose_file_is_valid_compose() -> None:
    done = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_everything_the_compose_file_builds_and_mounts_exists() -> None:
    services = compose()["services"]
    assert {"mosquitto", "emqx1", "emqx2", "emqx3", "postgres", "dispatcher-1", "dispatcher-2", "edge-1"} <= set(
        services)
    for name, service in services.items():
        if "build" in service:
            context = (DOCKER / service["build"]["context"]).resolve()
            assert (context / service["build"]["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = ENV_DEFAULT.sub(lambda m: m.group(2) or "", volume.split(":")[0])
            if source.startswith((".", "/")) and source not in MADE_BY_HAND:
                assert (DOCKER / source).exists(), f"{name}: {volume}"


def service_env(service: dict) -> dict[str, str]:
    """The environment compose gives a service, with each ${VAR:?...} filled in."""
    return {k: ENV_DEFAULT.sub(lambda m: m.group(2) if m.group(2) is not None else f"{m.group(1)}-value", str(v))
            for k, v in service.get("environment", {}).items()}


def test_each_service_config_loads_as_compose_fills_it(monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose()["services"]
    clients = set()
    for name in ("dispatcher-1", "dispatcher-2"):
        with monkeypatch.context() as env:
            for key, value in service_env(services[name]).items():
                env.setenv(key, value.replace("POSTGRES_PASSWORD-value", "secret"))
            env.setenv("GRIDPATROL_LINK_SECRET", "x" * 40)
            config = load_dispatcher_config(DOCKER / "config/dispatcher.yaml")
            assert config.ingest.shared_group == "dispatchers"
            assert config.database_url.startswith("postgresql+psycopg://gridpatrol:")
            clients.add(config.mqtt.client_id)
    assert clients == {"dispatcher-1", "dispatcher-2"}  # one persistent session each
    boxes = []
    for name in (n for n in services if n.startswith("edge-")):
        with monkeypatch.context() as env:
            for key, value in service_env(services[name]).items():
                env.setenv(key, value)
            box = load_edge_config(DOCKER / "config/town.yaml").for_box(None)
            assert box.cameras and box.mqtt.username == box.edge_id
            boxes.append(box.edge_id)
    monkeypatch.setenv("GRIDPATROL_MQTT_PASSWORD", "x")
    monkeypatch.setenv("GRIDPATROL_EDGE_TOKEN", "x")
    assert sorted(boxes) == load_edge_config(DOCKER / "config/town.yaml").boxes()  # every box has a service


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(ROOT), "-w", str(out)],
                   check=True, capture_output=True)
    return next(out.glob("gridpatrol-*.whl"))


def installed(wheel: Path, extra: str, where: Path) -> Path:
    """A fresh virtual environment with the wheel and one extra, as an image's install step makes it."""
    venv.create(where, with_pip=True)
    python = where / "bin/python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"{wheel}[{extra}]"], check=True,
                   capture_output=True)
    return python


def test_the_dispatcher_install_serves_without_opencv_or_onnxruntime(
        wheel: Path, tmp_path: Path, mosquitto, project_root: Path) -> None:
    from gridpatrol.broker import free_port, wait_port

    python = installed(wheel, "dispatcher", tmp_path / "venv")
    missing = subprocess.run([str(python), "-c", "import cv2"], capture_output=True, text=True)
    assert "No module named 'cv2'" in missing.stderr
    missing = subprocess.run([str(python), "-c", "import onnxruntime"], capture_output=True, text=True)
    assert "No module named 'onnxruntime'" in missing.stderr
    port = free_port()
    config = tmp_path / "dispatcher.yaml"
    config.write_text(yaml.safe_dump({
        "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}", "data_dir": str(tmp_path / "data"),
        "grid_file": str(project_root / "configs/grid.yaml"), "mqtt": {"url": mosquitto.url},
        "http": {"host": "127.0.0.1", "port": port}}))
    server = subprocess.Popen([str(python.parent / "gridpatrol"), "dispatcher", "serve", "--config", str(config)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_port(port, 60), "the installed dispatcher did not start"
        import httpx

        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        assert health["status"] == "ok"
        # the migrations ship in the wheel: the schema was built from them
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/cases", timeout=10).status_code == 401
    finally:
        server.terminate()
        server.wait(20)


def test_the_edge_install_detects_without_the_web_stack(wheel: Path, tmp_path: Path, shared: Path) -> None:
    python = installed(wheel, "edge", tmp_path / "venv")
    missing = subprocess.run([str(python), "-c", "import fastapi"], capture_output=True, text=True)
    assert "No module named 'fastapi'" in missing.stderr
    script = (
        "import sys, cv2\n"
        "from edge.detector import YoloDetector\n"
        "d = YoloDetector(sys.argv[1])\n"
        "image = cv2.imread(sys.argv[2])\n"
        "print(sorted({d.class_names[i] for i in d.detect(image).class_id}))\n"
    )
    done = subprocess.run([str(python), "-c", script, str(shared / "models/yolo11n-coco-int8-320.onnx"),
                           str(shared / "media/images/bus.jpg")], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert {"'bus'", "'person'"} <= set(done.stdout.strip("[]\n").split(", "))


def test_the_proxy_caps_bodies_and_carries_the_feed_to_a_real_dispatcher(
    dispatcher: DispatcherThread, tmp_path: Path,
) -> None:
    """docker/nginx/gridpatrol.conf in a real nginx, its upstreams pointed at a dispatcher."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is not installed: run `make test` (it installs nginx-light)"
    port = free_port()
    upstream = dispatcher.url.removeprefix("http://")
    conf = (DOCKER / "nginx/gridpatrol.conf").read_text()
    conf = re.sub(r"server dispatcher-\d:8080", f"server {upstream}", conf)
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("access_log /dev/stdout gridpatrol;", f"access_log {tmp_path}/access.log gridpatrol;")
    (tmp_path / "gridpatrol.conf").write_text(conf)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  include {tmp_path}/gridpatrol.conf;\n}}\n")
    check = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    # One process (no workers switching to an unprivileged user that cannot write tmp_path).
    proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                             "-g", "daemon off; master_process off;"])
    try:
        assert wait_port(port, 10)
        front = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{front}/healthz").status_code == 200
        assert httpx.post(f"{front}/api/v1/auth/login", content=b"x" * 200_000,
                          headers={"content-type": "application/json"}).status_code == 413  # nginx's own
        token = dispatcher.services.auth.issue_session("d-01").token
        auth = {"authorization": f"Bearer {token}"}
        big = httpx.put(f"{front}/api/v1/evidence/{'a' * 64}.jpg", content=b"\xff\xd8\xff" + bytes(1_000_000),
                        headers={**auth, "content-type": "image/jpeg"})
        assert big.status_code == 422  # through the proxy to the dispatcher (which refuses the hash)
        ticket = httpx.post(f"{front}/api/v1/feed/tickets", headers=auth).json()
        with ws_connect(f"ws://127.0.0.1:{port}/api/v1/feed", open_timeout=10,
                        subprotocols=[ticket["protocol"], f"ticket.{ticket['ticket']}"]) as conn:
            assert conn.subprotocol == "gridpatrol.v1"
        httpx.get(f"{front}/api/v1/evidence/{'a' * 64}.jpg?exp=1&sig=secret-signature")
    finally:
        proc.terminate()
        proc.wait(10)
    assert "secret-signature" not in (tmp_path / "access.log").read_text()
