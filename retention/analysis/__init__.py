"""What runs measure afterwards: backtests, uplift, re-exports."""
