"""The error of a sweep run by the Ray Tune sweeper plugin.

It lives outside ``hydra_plugins``: Hydra re-executes every plugin module when it scans for plugins, which
would otherwise create a new ``SweepError`` class each scan and break ``except SweepError`` in callers.
"""

from hydra.errors import CompactHydraException


class SweepError(CompactHydraException):
    """A sweep that cannot run or did not complete; Hydra prints it as one line."""
