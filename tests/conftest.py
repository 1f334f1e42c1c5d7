import os

os.environ.setdefault("METTAGRID_LOG_LEVEL", "WARNING")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("SKYPILOT_DISABLE_USAGE_COLLECTION", "1")
