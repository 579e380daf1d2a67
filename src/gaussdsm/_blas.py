"""BLAS ``dgemm`` / ``dsyrk`` callable from numba-compiled code (scipy's ``cython_blas`` entry points).

The SGD engine calls BLAS four times per block of 24–32 samples.  Through
``scipy.linalg.blas`` each call costs 1.5–5 µs of Python and f2py overhead and needs contiguous
operands; from compiled code the same BLAS (scipy's OpenBLAS, so ``threadpoolctl`` limits apply
as before) costs ~0.3 µs per call and accepts sub-matrices through leading dimensions.

Arguments follow the Fortran interface: matrices are 1-d float64 arrays holding column-major
data, starting at the array's first element (pass a slice ``buf[offset:]`` for a sub-matrix),
with an explicit leading dimension.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import get_cython_function_address, intrinsic

__all__ = ["gemm", "syrk"]

# Register the BLAS entry points as named symbols: compiled code then refers to them by name,
# not by an address baked in as a constant, so numba can cache it on disk (cache=True).
llvm.add_symbol("gaussdsm_dgemm", get_cython_function_address("scipy.linalg.cython_blas", "dgemm"))
llvm.add_symbol("gaussdsm_dsyrk", get_cython_function_address("scipy.linalg.cython_blas", "dsyrk"))
_dgemm = types.ExternalFunction("gaussdsm_dgemm", types.void(*([types.voidptr] * 13)))
_dsyrk = types.ExternalFunction("gaussdsm_dsyrk", types.void(*([types.voidptr] * 10)))


@intrinsic
def _ptr(typingctx, arr):
    """Data pointer of an array, as ``void*``."""

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.bitcast(ary.data, ir.IntType(8).as_pointer())

    return types.voidptr(arr), codegen


@numba.njit(cache=True, nogil=True)
def gemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """``C <- alpha op(A) op(B) + beta C`` (``C`` m×n, ``op(A)`` m×k); ``transa``/``transb`` are ord('N') or ord('T')."""
    ch = np.empty(2, np.uint8)
    ch[0], ch[1] = transa, transb
    iv = np.empty(6, np.int32)
    iv[0], iv[1], iv[2], iv[3], iv[4], iv[5] = m, n, k, lda, ldb, ldc
    dv = np.empty(2)
    dv[0], dv[1] = alpha, beta
    _dgemm(_ptr(ch[0:]), _ptr(ch[1:]), _ptr(iv[0:]), _ptr(iv[1:]), _ptr(iv[2:]), _ptr(dv[0:]),
           _ptr(a), _ptr(iv[3:]), _ptr(b), _ptr(iv[4:]), _ptr(dv[1:]), _ptr(c), _ptr(iv[5:]))


@numba.njit(cache=True, nogil=True)
def syrk(uplo, trans, n, k, alpha, a, lda, beta, c, ldc):
    """``C <- alpha op(A) op(A)^T + beta C`` on the ``uplo`` (ord('U') or ord('L')) triangle of ``C`` (n×n); ``op(A)`` n×k."""
    ch = np.empty(2, np.uint8)
    ch[0], ch[1] = uplo, trans
    iv = np.empty(4, np.int32)
    iv[0], iv[1], iv[2], iv[3] = n, k, lda, ldc
    dv = np.empty(2)
    dv[0], dv[1] = alpha, beta
    _dsyrk(_ptr(ch[0:]), _ptr(ch[1:]), _ptr(iv[0:]), _ptr(iv[1:]), _ptr(dv[0:]), _ptr(a), _ptr(iv[2:]),
           _ptr(dv[1:]), _ptr(c), _ptr(iv[3:]))
