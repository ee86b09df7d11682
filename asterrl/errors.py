"""Error types that reach the user as one clear line (the CLI prints ``str(error)`` and exits non-zero)."""


class AsterRLError(Exception):
    """Base class of every error that the command line reports without a traceback."""

    exit_code: int = 2


class ConfigError(AsterRLError):
    """A configuration value is unknown, of the wrong type, or out of range."""


class DataError(AsterRLError):
    """A data file or frame is unreadable, of the wrong kind, or fails a blocking validation check."""


class StoreError(AsterRLError):
    """The embedded market-data store cannot serve or accept a request."""


class SourceError(AsterRLError):
    """A remote market-data source failed (network, HTTP status, exchange error body)."""


class OfflineError(SourceError):
    """No source could be reached and nothing usable is stored locally."""


class ArtifactError(AsterRLError):
    """A frozen policy artifact is missing, corrupt, tampered with, or does not fit where it is deployed."""


class LiveError(AsterRLError):
    """The deployment bridge refuses to start or to go on (bad key file, unconfirmed live mode, ...)."""
