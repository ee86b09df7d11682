"""Aster connectivity: the REST/WebSocket client and the local Aster simulator server (``simulator``)."""
