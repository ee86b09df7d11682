"""asterrl: reinforcement-learning research and deployment platform for Aster DEX perpetual futures.

The core library knows nothing of RL frameworks, environments, agents or experiments; those live in the
top-level packages ``envs``, ``agents`` and ``experiments`` that build on it.
"""

__version__ = "0.1.0"
