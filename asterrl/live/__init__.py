"""The deployment bridge: a frozen policy trading on Aster (or the local exchange) behind hard limits.

The trading path imports torch and ``asterrl`` only (no Ray, SB3, Hydra, ``agents`` or ``envs``): a
deployed policy is a frozen artifact (``artifact.load_artifact``) whose manifest says how to build its
observation and read its action.
"""
