"""The command line the model tools share: ``SCRIPT SOURCE TARGET [options]``, errors on stderr, exit 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def run(description: str, convert: Callable[[Path, Path, argparse.Namespace], str],
        arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None) -> int:
    """Parse SOURCE and TARGET (and the tool's own ``arguments``), call ``convert`` (which
    returns what to print, or raises ``ValueError`` naming what is wrong with the model or the
    options) and say how it went."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    arguments(parser)
    args = parser.parse_args()
    if not args.source.is_file():
        print(f"no such model: {args.source}", file=sys.stderr)
        return 2
    try:
        done = convert(args.source, args.target, args)
    except ImportError as exc:
        print(f"needs the {exc.name or 'onnx'} package: pip install {exc.name or 'onnx'}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(done)
    return 0
