"""A stand-in for `python -m benchmark.cli` in controller tests: same argv, same output files, in a blink.

Behaviour per job comes from environment variables (set by the test for the controller, inherited by jobs):
  FAKE_JOB_MARKS   file: appends "start <job> <pid>" and "done <job>" lines (launch accounting)
  FAKE_JOB_SECONDS seconds to run (default 0.2); the job prints a heartbeat line every 0.1 s meanwhile
  FAKE_JOB_SCRIPT  JSON {"<job id suffix>": ["fail", "ok", ...]}: the outcome of attempt 1, 2, ... of every job
                   whose id ends with the key; outcomes: ok, fail (exit 1), deterministic (exit 3),
                   sigkill (kills itself with SIGKILL), hang (sleeps silently for ever)
Attempts are counted per job in FAKE_JOB_MARKS.
"""

import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.orchestration.backends.fake import parse_options, write_fake_outputs  # noqa: E402


def job_id(argv: list[str]) -> str:
    command, opts = parse_options(argv)
    if command == "train":
        return f"{opts['run_id']}.train"
    if opts.get("policy") == "random":
        return f"baseline.{opts['level']}"
    return f"{Path(opts['run']).name}.eval"


def main() -> int:
    argv = sys.argv[1:]
    me = job_id(argv)
    marks = Path(os.environ["FAKE_JOB_MARKS"]) if os.environ.get("FAKE_JOB_MARKS") else None
    attempt = 1
    if marks is not None:
        if marks.exists():
            attempt += sum(1 for line in marks.read_text().splitlines() if line.split()[:2] == ["start", me])
        with marks.open("a") as f:
            f.write(f"start {me} {os.getpid()}\n")
    script = json.loads(os.environ.get("FAKE_JOB_SCRIPT", "{}"))
    outcome = "ok"
    for suffix, outcomes in script.items():
        if me.endswith(suffix):
            outcome = outcomes[min(attempt, len(outcomes)) - 1]
    print(f"fake job {me} attempt {attempt}: {outcome} (threads {os.environ.get('ARCHBENCH_THREADS')})", flush=True)
    if outcome == "hang":
        time.sleep(3600)
    if outcome == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    deadline = time.monotonic() + float(os.environ.get("FAKE_JOB_SECONDS", "0.2"))
    while time.monotonic() < deadline:
        time.sleep(0.1)
        print("working", flush=True)
    if outcome == "fail":
        print("RuntimeError: scripted failure", flush=True)
        return 1
    if outcome == "deterministic":
        print("error: non-finite loss at agent step 0 (deterministic: a retry would fail the same way)", flush=True)
        return 3
    write_fake_outputs(argv)
    if marks is not None:
        with marks.open("a") as f:
            f.write(f"done {me}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
