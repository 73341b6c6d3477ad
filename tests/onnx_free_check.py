"""Imported by the detector tests: the edge path must never pull in PyTorch."""

import sys

import edge.detector
import edge.runner  # noqa: F401

assert "torch" not in sys.modules, "the edge runtime imported PyTorch"
