"""Statistics and report rendering for archbench results, downstream of three tidy pandas frames.

The loader (ledger -> frames) lives elsewhere; everything here starts from these frames, so the report can be
rebuilt from CSVs alone and tested on synthetic data.

`scores`: one row per (architecture, level, seed) evaluation cell.
    architecture (str), level (str), seed (int), reward_per_agent (float), hearts_per_agent (float),
    random_reward_per_agent (float), random_hearts_per_agent (float): the uniform-random policy's score on the
    same evaluation episodes of that level (same value on every row of a level),
    status (str): "success", "failed", "missing", ...; a cell that is not a success has NaN scores.
    If `status` is absent it is inferred: "success" where both scores are finite, else "missing".

`curves`: one row per logged training point.
    architecture, level, seed, agent_steps (int), reward_per_agent (float), hearts_per_agent (float).

`throughput`: one row per run.
    architecture, level, seed, parameters (int), train_sps (float, agent-steps/s), train_seconds (float),
    eval_seconds (float), device (str: "cpu" or "cuda").

Modules: `frames` (contract checks), `stats` (pure numerics, rliable-compatible), `tables` (pandas tables),
`plots` (PNG figures), `markup` (one document model -> Markdown and self-contained HTML), `render`
(report.md, report.html, CSVs, PNGs, marl-eval JSON).
"""
