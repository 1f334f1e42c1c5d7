"""Experiment tracking (W&B). The project's own results files stay the source of truth; W&B is a view."""

from benchmark.tracking.wandb_tracker import NullTracker, Tracker, read_offline_run, wandb_run_id

__all__ = ["NullTracker", "Tracker", "read_offline_run", "wandb_run_id"]
