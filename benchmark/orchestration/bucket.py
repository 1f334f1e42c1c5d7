"""Copy one file out of a results bucket with the cloud's own command-line tool, for `--eval-where local`.

The controller's machine then evaluates a checkpoint that a cloud node trained. Each scheme uses the tool its
cloud documents (and SkyPilot itself relies on for that store): `aws s3 cp` for s3://, `gcloud storage cp` (or
`gsutil cp`) for gs://, `aws s3 cp` against Cloudflare's endpoint with the `r2` profile for r2://, as SkyPilot
configures R2. The copy lands in a temporary file first, so a half-copied checkpoint is never read.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from benchmark.atomic import atomic_target

SCHEMES = ("s3://", "gs://", "r2://")
R2_ACCOUNT_FILE = Path("~/.cloudflare/accountid")  # where SkyPilot's R2 setup keeps the account id

Which = Callable[[str], str | None]


class FetchError(RuntimeError):
    """The file could not be copied: the tool is missing or failed (its message, on one line)."""


def supported(uri: str) -> bool:
    return uri.startswith(SCHEMES)


def copy_command(uri: str, dest: Path, which: Which = shutil.which, r2_account: str | None = None) -> list[str]:
    """The command that copies `uri` to the local file `dest`; FetchError naming what to install if none can."""
    if uri.startswith("s3://"):
        return [
            _tool("aws", which, "the AWS CLI (pip install awscli)"),
            "s3",
            "cp",
            "--only-show-errors",
            uri,
            str(dest),
        ]
    if uri.startswith("gs://"):
        if gcloud := which("gcloud"):
            return [gcloud, "storage", "cp", uri, str(dest)]
        return [_tool("gsutil", which, "the Google Cloud CLI (gcloud)"), "-q", "cp", uri, str(dest)]
    if uri.startswith("r2://"):
        account = r2_account or _r2_account()
        endpoint = f"https://{account}.r2.cloudflarestorage.com"
        aws = _tool("aws", which, "the AWS CLI (pip install awscli), configured with an 'r2' profile")
        s3_uri = "s3://" + uri.removeprefix("r2://")
        return [aws, "s3", "cp", "--only-show-errors", s3_uri, str(dest), "--endpoint-url", endpoint, "--profile", "r2"]
    raise FetchError(f"cannot copy {uri!r} out of a bucket: --eval-where local supports {', '.join(SCHEMES)}")


def fetch_file(uri: str, dest: Path, run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> Path:
    """Copy one object to `dest` (atomically); FetchError with the tool's last line if it fails."""
    with atomic_target(dest) as partial:
        command = copy_command(uri, partial)
        try:
            done = run(command, capture_output=True, text=True, timeout=3600)
        except (OSError, subprocess.SubprocessError) as exc:
            raise FetchError(f"{command[0]} could not copy {uri}: {exc}") from None
        if done.returncode != 0 or not partial.exists():
            lines = [ln.strip() for ln in (done.stderr or done.stdout or "").splitlines() if ln.strip()]
            last = lines[-1] if lines else ""
            raise FetchError(f"{command[0]} could not copy {uri} (exit {done.returncode}): {last}")
    return dest


def _tool(name: str, which: Which, what: str) -> str:
    path = which(name)
    if path is None:
        raise FetchError(f"`{name}` is not on PATH: --eval-where local copies checkpoints with {what}")
    return path


def _r2_account() -> str:
    path = R2_ACCOUNT_FILE.expanduser()
    try:
        return path.read_text().strip()
    except OSError:
        raise FetchError(
            f"r2:// needs the Cloudflare account id in {R2_ACCOUNT_FILE} (as SkyPilot's R2 setup writes)"
        ) from None
