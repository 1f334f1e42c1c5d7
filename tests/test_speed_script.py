"""The speed script runs end to end (tiny settings: this checks that it works, not how fast anything is)."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "architectures.py"


def test_speed_script_measures_against_fast(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("speed_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "speeds.json"
    args = ["--architectures", "vit_reset", "--seconds", "0.05", "--updates", "1", "--rows", "12", "--bptt", "4"]
    rows = module.main([*args, "--threads", "1", "--json", str(out)])
    assert [r["architecture"] for r in rows] == ["fast", "vit_reset"]
    assert rows[0]["inference_vs_fast"] == 1.0 and rows[0]["train_vs_fast"] == 1.0
    assert all(r["inference_sps"] > 0 and r["train_sps"] > 0 and r["parameters"] > 0 for r in rows)
    table = capsys.readouterr().out
    assert f"| vit_reset | {rows[1]['parameters']:,} | lstm_reset |" in table
    assert json.loads(out.read_text())["results"][1]["memory"] == "lstm_reset"


GPU_SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"


@pytest.mark.slow
def test_device_script_runs_every_part(tmp_path):
    """benchmarks/gpu.py --quick (about a minute on a CPU): every part of the table has rows."""
    import subprocess
    import sys

    out = tmp_path / "gpu.json"
    done = subprocess.run(
        [sys.executable, str(GPU_SCRIPT), "--quick", "--json", str(out)], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert {"device", "cpus", "torch", "cuda", "python"} <= set(result["meta"])
    parts = {row["part"] for row in result["rows"]}
    assert parts == {"environment", "fast training", "architecture", "node"}
    assert all(row["sps"] > 0 for row in result["rows"] if row["part"] == "environment")
