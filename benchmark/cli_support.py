"""What both command lines (`archbench` and `benchmark/adaptive.py`) share: one-line usage errors, `--version`,
`-h`, and counts written as a researcher writes them (`1e6`, `2_000_000`, `2,000,000`)."""

from __future__ import annotations

import sys
from importlib import metadata

import typer

from benchmark import errors

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


def version_text() -> str:
    """Read from package metadata: importing torch only to print a version would cost a second."""

    def ver(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    py = ".".join(str(v) for v in sys.version_info[:3])
    return f"archbench {ver('archbench')} (python {py}, torch {ver('torch')}, mettagrid {ver('mettagrid')})"


def print_version(value: bool) -> None:
    if value:
        print(version_text())
        raise typer.Exit(0)


VERSION_OPTION = typer.Option("--version", is_eager=True, callback=print_version, help="print the versions and exit")


def parse_count(value: str | int) -> int:
    """A whole count of steps or episodes: 2000000, 2_000_000, 2,000,000 or 2e6."""
    if isinstance(value, int):
        return value
    text = str(value).strip().replace("_", "").replace(",", "")
    try:
        number = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a number; write e.g. 2000000, 2_000_000 or 2e6") from None
    if number != int(number):
        raise typer.BadParameter(f"{value!r} is not a whole number; write e.g. 2000000, 2_000_000 or 2e6")
    return int(number)


def run_command(command, argv: list[str] | None, prog_name: str) -> None:
    """Run a click command so that any usage error is one line on stderr and exit 2, Ctrl-C exit 130."""
    try:  # typer >= 0.26 bundles its own click
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click.exceptions import UsageError

    try:
        code = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except UsageError as exc:
        message = " ".join(exc.format_message().split())
        if message:  # empty when the help was shown for a bare command
            print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    except typer.Abort:
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def positive(name: str, value: int) -> None:
    """A count option that must be at least 1: one line naming it, exit 2."""
    if value <= 0:
        raise errors.UsageError(f"--{name} must be a positive integer, got {value}")
