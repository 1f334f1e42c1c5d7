"""Usage errors: one line naming the bad value and what would be valid, exit code 2, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn

USAGE_EXIT = 2


class UsageError(ValueError):
    """Bad input from the user."""


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
            errors = getattr(exc, "errors", None)
            if callable(errors):
                parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})" for e in errors()]
                fail("; ".join(parts))
            fail(one_line(exc))

    return wrapper
