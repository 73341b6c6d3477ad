"""Where sample models and media are: one setting, ``GRIDPATROL_DATA``.

Default: ``../shared`` beside the project checkout. Tests and benchmarks read it; the demo
takes its files from it when they are there (else from its bundle, gridpatrol/bundle.py).
:func:`require` names every missing file and how to get it.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    env = os.environ.get("GRIDPATROL_DATA")
    return Path(env) if env else (PROJECT_ROOT.parent / "shared")


class DataMissing(FileNotFoundError):
    pass


HOW_TO_GET = {
    "models/": "export one with `python models/export.py --out DIR/models` (needs `pip install gridpatrol[export]` "
               "and internet), or set GRIDPATROL_DATA to a folder that has it",
    "media/": "set GRIDPATROL_DATA to the sample data folder, which holds media/clips/",
}


def require(*relative: str) -> list[Path]:
    root = data_dir()
    paths = [root / r for r in relative]
    missing = [r for r, p in zip(relative, paths, strict=True) if not p.exists()]
    if missing:
        hints = {hint for prefix, hint in HOW_TO_GET.items() for m in missing if m.startswith(prefix)}
        raise DataMissing(
            f"sample data not found under {root}: {', '.join(missing)}. " + "; ".join(sorted(hints))
        )
    return paths
