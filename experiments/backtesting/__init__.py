"""What the ``backtest`` and ``walkforward`` commands share: policies and configs turned into backtests on
``asterrl.backtest.engine``, trial records and the walk-forward."""
