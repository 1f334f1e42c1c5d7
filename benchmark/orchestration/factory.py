"""Which backend runs an experiment's jobs. Backends are built lazily: importing one never imports sky."""

from __future__ import annotations

import os
import shlex

from benchmark.errors import UsageError
from benchmark.orchestration.backend import Backend
from benchmark.orchestration.options import ExperimentOptions

JOB_PROGRAM_ENV = "ARCHBENCH_JOB_PROGRAM"  # local jobs run `<program> <argv>`; default: python -m benchmark.cli


def make_backend(options: ExperimentOptions) -> Backend:
    if options.local:
        from benchmark.orchestration.backends.local import LocalBackend

        program = os.environ.get(JOB_PROGRAM_ENV)
        return LocalBackend(jobs_per_gpu=options.jobs_per_gpu, program=shlex.split(program) if program else None)
    raise UsageError("the SkyPilot backend is not available yet; run the jobs on this machine with --local")
