"""Numba kernels over plain float64 arrays, one module per indicator family.

Every kernel is causal (the value at index ``t`` reads inputs at indices ``<= t`` only), returns float64
arrays the length of its inputs, and leaves NaN in the warm-up rows. Inputs must be finite.
"""
