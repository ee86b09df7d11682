"""Registers every feature: importing this package fills ``asterrl.features.registry.REGISTRY``."""

from asterrl.features.catalog import market, trend_momentum, volatility_volume

__all__ = ["market", "trend_momentum", "volatility_volume"]
