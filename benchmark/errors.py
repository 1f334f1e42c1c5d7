"""Usage errors: one line naming the bad value and what would be valid, exit code 2, no traceback."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, NoReturn

USAGE_EXIT = 2


class UsageError(ValueError):
    """Bad input from the user."""


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> str:
    """ "unknown level 'levl_1'; did you mean 'level_1_basic'? valid: ..." (the suggestion only when one is close)."""
    valid = list(valid)
    close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.75)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {kind} {name!r}; {hint}valid: {', '.join(valid)}"


def flag_name(loc: tuple | list) -> str:
    """A pydantic error location as the command-line flag it came from: ('wandb_mode',) -> --wandb-mode."""
    return "--" + str(loc[0]).replace("_", "-") if loc else "input"


def pydantic_message(exc: Any) -> str:
    """A ValidationError in one line, naming flags, never quoting regex patterns."""
    parts = []
    for err in exc.errors():
        message = str(err["msg"]).removeprefix("Value error, ")
        if err.get("type") == "string_pattern_mismatch":
            message = "use letters, digits, '-' and '_' (starting with a letter or digit, at most 64)"
        parts.append(f"{flag_name(err['loc'])}: {message} (got {err.get('input')!r})")
    return "; ".join(parts)


def fail(message: str, code: int = USAGE_EXIT) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def one_line(exc: BaseException) -> str:
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(str(text).split())


def usage_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors bad input raises (unknown names, bad values, missing files) into one line + exit 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (UsageError, KeyError, FileNotFoundError) as exc:
            fail(one_line(exc))
        except ValueError as exc:  # pydantic ValidationError is a ValueError
            if callable(getattr(exc, "errors", None)):
                fail(pydantic_message(exc))
            fail(one_line(exc))

    return wrapper
