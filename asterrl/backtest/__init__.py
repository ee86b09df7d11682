"""Backtesting on the market model: trading metrics, and (as they land) walk-forward runs, Monte Carlo and
reports."""
