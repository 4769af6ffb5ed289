"""The C library's math functions, for phantoms that are the same bits on every CPU.

NumPy computes ``arctan2``, ``arcsin`` and ``power`` (float32 and float64) and ``exp`` and ``log``
(float64) with its own AVX-512 kernels where the CPU has them, and with the C library's ``atan2``,
``asin``, ``pow``/``powf``, ``exp`` and ``log`` elsewhere; the two disagree in the last bit for many inputs.
A phantom drawn with those ufuncs is then a different image on an AVX-512 machine: a different data digest,
a different test set, runs that cannot be paired with those of another machine. The phantoms call these
functions instead, which give the C library's result on every CPU, the bits NumPy gives where it has no
AVX-512 kernel (``sin``, ``cos``, ``sqrt``, ``hypot``, float32 ``exp``, and IEEE arithmetic, are the same
everywhere). They work element by element, so they are for scalars and small arrays, or for arrays drawn
once and cached, as a phantom pool is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np

_LIBM = ctypes.CDLL(ctypes.util.find_library("m"))
_POWF = _LIBM.powf
_POWF.restype, _POWF.argtypes = ctypes.c_float, (ctypes.c_float, ctypes.c_float)
_EXP = np.frompyfunc(math.exp, 1, 1)
_POWER = {np.dtype(np.float32): np.frompyfunc(_POWF, 2, 1),
          np.dtype(np.float64): np.frompyfunc(math.pow, 2, 1)}

atan2, asin = math.atan2, math.asin


def exp(x: np.ndarray) -> np.ndarray:
    """``exp`` of a float64 array."""
    return _EXP(np.asarray(x, dtype=np.float64)).astype(np.float64)


def power(x: np.ndarray, exponent: float) -> np.ndarray:
    """``x ** exponent`` in the precision of ``x``, as NumPy computes it for a Python scalar exponent:
    ``powf`` with the exponent rounded to float32 for a float32 array, ``pow`` for a float64 one."""
    x = np.asarray(x)
    if x.dtype not in _POWER:
        raise TypeError(f"power of a float32 or float64 array, got {x.dtype}")
    return _POWER[x.dtype](x, float(exponent)).astype(x.dtype)
