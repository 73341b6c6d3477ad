"""Config files: the documented shape loads; every mistake names file, key and reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from contract.configfile import ConfigError
from dispatcher.grid import load_grid
from edge.config import load_edge_config


def write(tmp_path: Path, data: object, name: str = "edge.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def example(project_root: Path) -> dict:
    return yaml.safe_load((project_root / "configs/edge.example.yaml").read_text())


def test_the_issue_example_loads(project_root: Path) -> None:
    cfg = load_edge_config(project_root / "configs/edge.example.yaml")
    zone = cfg.cameras[0].zones[0]
    assert (cfg.edge_id, cfg.mqtt.port, zone.kind.value, zone.dwell_s) == ("box-01", 1883, "parked_bike", 120)


@pytest.mark.parametrize(
    ("mutate", "key", "reason"),
    [
        (lambda d: d["cameras"][0]["zones"][0].update(polygon=[[0.1, 0.5], [1.4, 0.5], [0.9, 1.0]]),
         "cameras[0].zones[0].polygon", "outside 0..1"),
        (lambda d: d["cameras"][0]["zones"][0].update(polygon=[[0, 0], [1, 1], [1, 0], [0, 1]]),
         "cameras[0].zones[0].polygon", "must not cross itself"),
        (lambda d: d["cameras"][0]["zones"][0].update(kind="double_parking"), "cameras[0].zones[0].kind",
         "parked_bike"),
        (lambda d: d["cameras"][0]["zones"][0].update(dwell_s=-5), "cameras[0].zones[0].dwell_s", "greater than 0"),
        (lambda d: d["cameras"][0].update(sample_fps="fast"), "cameras[0].sample_fps", "valid number"),
        (lambda d: d["cameras"][0].update(zone=[]), "cameras[0].zone", "Extra inputs are not permitted"),
        (lambda d: d["cameras"][0].update(idle_sample_fps=5), "cameras[0]", "must not exceed sample_fps"),
        (lambda d: d["cameras"][0]["zones"][0].update(door_line=[[0.1, 0.5], [0.9, 0.5]]),
         "cameras[0].zones[0]", "only a cross_door_trading zone"),
        (lambda d: d["cameras"][1]["zones"][0].update(door_line=[[0.2, 0.3], [0.8, 0.3]]),
         "cameras[1].zones[0]", "point 0 is not on the strip's border"),
        (lambda d: d["cameras"][1]["zones"][0].update(door_line=[[0.5, 0.55], [0.5, 0.552]]),
         "cameras[1].zones[0].door_line", "at least 0.01 apart"),
        (lambda d: d["cameras"][1]["zones"][0].update(door_line=[[0.2, 0.55]]),
         "cameras[1].zones[0].door_line", "Field required"),
        (lambda d: d["cameras"][0]["zones"][0].update(ground={"image": [[0, 0.5], [0.5, 0.6], [1, 0.7], [0, 1]],
                                                              "metres": [[0, 0], [5, 0], [5, 3], [0, 3]]}),
         "cameras[0].zones[0].ground", "three of the four points lie on a line"),
        (lambda d: d["cameras"][0]["zones"][0].update(ground={"image": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}),
         "cameras[0].zones[0].ground", "image and metres go together"),
        (lambda d: d["cameras"][0]["zones"][0].update(ground={"homography": [[1, 0, 0], [0, 1, 0], [0, 0, 0]],
                                                              "still_m": 1}),
         "cameras[0].zones[0].ground", "singular"),
        (lambda d: d["mqtt"].update(url="tcp://broker"), "mqtt.url", "mqtt://host:port"),
        (lambda d: d.pop("edge_id"), "edge_id", "Field required"),
        (lambda d: d["cameras"].append(dict(d["cameras"][0])), "cameras", "appears twice"),
    ],
)
def test_errors_name_file_key_and_reason(tmp_path: Path, project_root: Path, mutate, key: str, reason: str) -> None:
    data = example(project_root)
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_edge_config(path)
    text = str(err.value)
    assert str(path) in text and key in text and reason in text, text


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "edge_id: box-01\ncameras: [\n  - id: x\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_edge_config(path)


def test_environment_variables_expand_with_defaults(tmp_path: Path, project_root: Path, monkeypatch) -> None:
    data = example(project_root)
    data["mqtt"]["url"] = "${TEST_BROKER:-mqtt://10.0.0.1:1999}"
    data["model"]["path"] = "${TEST_MODELS}/m.onnx"
    path = write(tmp_path, data)
    monkeypatch.setenv("TEST_MODELS", "/opt/models")
    cfg = load_edge_config(path)
    assert (cfg.mqtt.port, str(cfg.model.path)) == (1999, "/opt/models/m.onnx")
    monkeypatch.delenv("TEST_MODELS")
    with pytest.raises(ConfigError, match=r"model\.path: environment variable TEST_MODELS is not set"):
        load_edge_config(path)


def test_grid_file_references_are_checked(tmp_path: Path, project_root: Path) -> None:
    grid = yaml.safe_load((project_root / "configs/grid.yaml").read_text())
    assert load_grid(project_root / "configs/grid.yaml").micro_grid("mg-017").worker == "w-017"
    grid["micro_grids"][0]["worker"] = "nobody"
    with pytest.raises(ConfigError, match="worker 'nobody' is not in people"):
        load_grid(write(tmp_path, grid, "grid.yaml"))


def test_cli_refuses_a_broken_config_with_a_clear_error(tmp_path: Path, project_root: Path) -> None:
    data = example(project_root)
    data["cameras"][0]["zones"][0]["classes"] = []
    path = write(tmp_path, data)
    proc = subprocess.run(
        [sys.executable, "-m", "gridpatrol.cli", "edge", "run", "--config", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "config error" in proc.stderr and "cameras[0].zones[0].classes" in proc.stderr


def test_a_ground_plane_from_four_points_maps_them_to_their_metres() -> None:
    import numpy as np

    from contract.zones import GroundPlane

    image = [(0.2, 0.5), (0.8, 0.5), (0.95, 0.95), (0.05, 0.95)]  # a lane seen in perspective
    metres = [(0.0, 20.0), (3.5, 20.0), (3.5, 0.0), (0.0, 0.0)]
    matrix = GroundPlane(image=image, metres=metres).matrix()
    mapped = np.c_[np.array(image), np.ones(4)] @ matrix.T
    assert np.allclose(mapped[:, :2] / mapped[:, 2:], metres, atol=1e-6)
