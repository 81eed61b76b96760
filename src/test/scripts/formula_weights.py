"""Weights computed from a tensor's name, identically here and in Java (dev.avatartrain.testing.FormulaWeights).

Fixtures at real widths would hold hundreds of MB of weights; instead both sides compute them. Element i of the tensor
named N is splitmix64(fnv1a64(N) + (i + 1) * 0x9E3779B97F4A7C15); its top 24 bits k give v = (2k - 2^24) / 2^24 in
[-1, 1), exact in float32. The value is offset + scale * v in float32 (IEEE single rounding on both sides):
  ".bias"                       offset 0, scale 0.1
  other 1-D with "norm" in N    offset 1, scale 0.1   (norm weights)
  tensors of 2 or more dims     offset 0, scale sqrt(3 / fan_in), fan_in = numel / shape[0] (unit variance out)
"""
import math

import numpy as np

_MASK = (1 << 64) - 1


def fnv1a64(name):
    h = 0xcbf29ce484222325
    for b in name.encode("utf-8"):
        h = ((h ^ b) * 0x100000001b3) & _MASK
    return h


def rule(name, shape):
    if name.endswith(".bias"):
        return 0.0, 0.1
    if len(shape) == 1:
        return (1.0, 0.1) if "norm" in name else (0.0, 0.1)
    fan_in = math.prod(shape) // shape[0]
    return 0.0, math.sqrt(3.0 / fan_in)


def values(name, shape):
    """The float32 array of the given shape for the tensor named `name`."""
    n = math.prod(shape)
    with np.errstate(over="ignore"):
        z = np.uint64(fnv1a64(name)) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    k = (z >> np.uint64(40)).astype(np.int64)
    v = (2 * k - (1 << 24)).astype(np.float32) * np.float32(2.0 ** -24)
    offset, scale = rule(name, shape)
    out = np.float32(scale) * v
    if offset:
        out = np.float32(offset) + out
    return out.astype(np.float32).reshape(shape)
