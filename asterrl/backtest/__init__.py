"""Backtest research tools: trading metrics (``metrics``), overfitting statistics (``stats``), Monte Carlo
on a result (``montecarlo``), the typed result a backtest produces (``result``) and its report
(``report``)."""
