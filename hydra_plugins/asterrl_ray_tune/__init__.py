"""Ray Tune as a Hydra sweeper: ``asterrl train -m hydra/sweeper=ray_tune agent.lr=1e-4,3e-4 seed=0,1``.

Hydra finds this package through the ``hydra_plugins`` namespace; importing it must stay cheap (no Ray,
no torch), since Hydra scans every plugin whenever it composes a configuration.

Its modules do not use ``from __future__ import annotations``: Hydra's scanner runs each module before
putting it in ``sys.modules``, where ``dataclasses`` looks string annotations up.
"""
