"""Management's compliance overview: the figures, the lists behind them and the charts."""
