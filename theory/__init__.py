"""Symbolic and high-precision theory of the ASGD/SDDE paper (SymPy + mpmath).

Imports nothing from ``numerics`` or ``verify``.
"""
