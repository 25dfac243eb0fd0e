"""Vectorised simulators and exact moment propagation (NumPy/SciPy).

May import ``theory``; never ``verify``.
"""
