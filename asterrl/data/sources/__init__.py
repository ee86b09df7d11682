"""Market-data sources behind one interface (``MarketDataSource``)."""

from asterrl.data.sources.base import MarketDataSource, ProgressCallback

__all__ = ["MarketDataSource", "ProgressCallback"]
