"""Training configuration: one pydantic model, validated at the edge, defaults that run."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchmark.policy import TrainerHints


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: str = Field("level_1_basic", description="level registry key")
    architecture: str = Field("fast", description="architecture registry key")
    seed: int = Field(0, ge=0, description="seeds torch, numpy, every simulation and map")
    timesteps: int = Field(2_000_000, gt=0, description="agent steps to train for (all agents count)")
    out: Path | None = Field(
        None, description="run folder: checkpoints, metrics, summary (default results/runs/ARCH.LEVEL.sSEED)"
    )
    rows: int = Field(384, ge=1, description="agents stepped per batch; simulations = rows // agents")
    num_sims: int | None = Field(None, ge=1, description="simulations per batch (overrides rows)")
    bptt: int | None = Field(None, ge=1, description="rollout segment = truncated-BPTT horizon (default: hint or 64)")
    epochs: int | None = Field(None, ge=1, description="passes over each rollout (default: hint or 1)")
    minibatches: int | None = Field(None, ge=1, description="minibatches per epoch (default: hint or 12)")
    learning_rate: float | None = Field(None, gt=0, description="Adam learning rate (default: hint or 1.15e-3)")
    anneal_lr: bool = Field(True, description="decay the learning rate linearly to 0 over `timesteps`")
    gamma: float = Field(0.977, gt=0, le=1)
    gae_lambda: float = Field(0.891, ge=0, le=1)
    clip: float = Field(0.264, gt=0)
    value_clip: float = Field(0.1, gt=0)
    value_coef: float = Field(0.898, ge=0)
    entropy_coef: float | None = Field(None, ge=0, description="entropy bonus weight (default: hint or 0.01)")
    max_grad_norm: float = Field(0.5, gt=0)
    normalize_advantages: bool = True
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = CUDA when present")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="matmul dtype while training; auto = bf16 where the hardware has it natively"
    )
    threads: int | None = Field(None, ge=1, description="torch threads (default: the CPUs this process may use)")
    env_workers: int | None = Field(
        None,
        ge=0,
        description="environment worker processes (0: step every simulation in this process; default: from the "
        "job's cores, none on 1-2, see training/workers.py)",
    )
    double_buffer: bool | None = Field(
        None,
        description="with 2+ workers, step half the simulations while the policy acts for the other half "
        "(default: on with CUDA)",
    )
    checkpoint_seconds: float = Field(60.0, gt=0, description="wall time between periodic checkpoints")
    log_seconds: float = Field(
        0.0, ge=0, description="least wall time between metrics lines (0: every update, so a short run has a curve)"
    )
    wandb_mode: Literal["offline", "online", "disabled"] = Field("disabled")
    wandb_project: str = Field("archbench")
    experiment_id: str | None = Field(None, description="W&B group; set by the controller")
    run_id: str | None = Field(None, description="stable run id; set by the controller")
    architectures_module: str | None = Field(None, description="user module that registers architectures")
    init_from: Path | None = Field(
        None, description="a checkpoint to continue (screening): copied into `out` with its curve when `out` has none"
    )
    snapshots: list[int] = Field(
        default_factory=list, description="percentages of the budget at which to keep a checkpoint in at<p>/"
    )
    stop_collapsed: bool = Field(
        True, description="end a run whose policy collapsed (entropy at its floor, reward random): collapse.py"
    )

    # The settings an architecture may ask for (`TrainerHints`); a value given here overrides its hint.
    # 12 minibatches of 32 rows x 64 steps: 4 (6k samples each) left fast flat on level 1 for 2M steps.
    # 3 epochs: on level 1 at 1M agent steps `fast` went from 1.07x random reward (1 epoch) to 2.27x, and `vit`,
    # flat for 2M steps with 1, learns with 3 (docs/calibration.md); 48 minibatches or 96 instead were worse.
    DEFAULTS: ClassVar[dict[str, float]] = {
        "learning_rate": 1.15e-3,
        "minibatches": 12,
        "epochs": 3,
        "bptt": 64,
        "entropy_coef": 0.01,
    }

    @model_validator(mode="after")
    def _run_folder(self) -> TrainConfig:
        if self.out is None:  # one folder per run, so a second architecture never meets the first's checkpoint
            self.out = Path("results") / "runs" / f"{self.architecture}.{self.level}.s{self.seed}"
        return self

    def settings(self, hints: TrainerHints) -> dict[str, float]:
        """The effective value of each hinted setting: this config's, else the architecture's, else the default."""
        out = {}
        for name, default in self.DEFAULTS.items():
            mine, hinted = getattr(self, name), getattr(hints, name)
            out[name] = mine if mine is not None else hinted if hinted is not None else default
        return out
