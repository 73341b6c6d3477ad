"""The command line the model tools share: ``SCRIPT SOURCE TARGET``, errors on stderr, exit 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def run(description: str, convert: Callable[[Path, Path], str]) -> int:
    """Parse SOURCE and TARGET, call ``convert`` (which returns what to print, or raises
    ``ValueError`` naming what is wrong with the model) and say how it went."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    if not args.source.is_file():
        print(f"no such model: {args.source}", file=sys.stderr)
        return 2
    try:
        done = convert(args.source, args.target)
    except ImportError:
        print("needs the onnx package: pip install onnx", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(done)
    return 0
