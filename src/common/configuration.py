"""Configuration problems said the way an operator sets them: one line per problem, naming the
environment variable, the value given and what is allowed (pydantic names the field, not the variable).

A process that cannot run with its configuration exits with status 2 (``EXIT_STATUS``) after printing
every problem at once; the traceback behind them is shown only at ``ESHOP_LOG_LEVEL=DEBUG``.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterable
from typing import Any, Literal, TypeVar, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from common.redaction import redacted

EXIT_STATUS = 2
_KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "text"}

S = TypeVar("S", bound=BaseSettings)


class ConfigurationError(Exception):
    """Configuration the process cannot run with; ``problems`` holds one line per problem, and
    ``exit_status`` is 2 unless the setting may work later (a database server that did not answer)."""

    def __init__(self, problems: Iterable[str], exit_status: int = EXIT_STATUS) -> None:
        self.problems = list(problems)
        self.exit_status = exit_status
        super().__init__("; ".join(self.problems))


def variable(settings: type[BaseModel] | BaseModel, field: str) -> str:
    """The environment variable that sets ``field``: ``ORDER_`` + ``product_retry_max_attempts``."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def shown(value: object) -> str:
    """The value as given, quoted, with any password in a URL masked."""
    return repr(redacted(str(value)))


def problem(
    settings: BaseModel, field: str, error: Exception, exit_status: int = EXIT_STATUS
) -> ConfigurationError:
    """A value that passed validation but proved unusable when the service tried it."""
    value = getattr(settings, field)
    return ConfigurationError([f"{variable(settings, field)}={shown(value)}: {error}"], exit_status)


def load(*classes: type[BaseSettings]) -> list[BaseSettings]:
    """An instance of each class read from the environment, or one ConfigurationError with every
    problem of every class."""
    loaded: list[BaseSettings] = []
    problems: list[str] = []
    last: ValidationError | None = None
    for settings_class in classes:
        try:
            loaded.append(settings_class())
        except ValidationError as error:
            problems += [_describe(settings_class, e) for e in error.errors()]
            last = error
    if problems:
        raise ConfigurationError(problems) from last
    return loaded


def report(error: ConfigurationError) -> None:
    """Print the problems on stderr, one line each; the traceback too when debugging."""
    if os.environ.get("ESHOP_LOG_LEVEL", "").strip().upper() in {"DEBUG", "TRACE"}:
        traceback.print_exception(error, file=sys.stderr)
    for problem in error.problems:
        print(problem, file=sys.stderr)
    sys.stderr.flush()


def _describe(settings_class: type[BaseSettings], error: Any) -> str:
    loc = error.get("loc") or ()
    field = str(loc[0]) if loc else ""
    if field not in settings_class.model_fields:
        # A rule across fields (a model validator): its message names the variables itself.
        return str(error.get("ctx", {}).get("error", error["msg"]))
    name = variable(settings_class, field)
    if error["type"] == "value_error":  # a field validator of ours: its message says what is allowed
        rule = str(error["ctx"]["error"])
    else:
        rule = "must be " + _allowed(settings_class.model_fields[field])
    return f"{name}={shown(error.get('input', ''))}: {rule}"


def _allowed(field: FieldInfo) -> str:
    if get_origin(field.annotation) is Literal:
        return "one of " + ", ".join(str(choice) for choice in get_args(field.annotation))
    kind = _KINDS.get(field.annotation, "valid")  # type: ignore[arg-type]
    low = next((m for m in field.metadata if isinstance(m, annotated_types.Ge | annotated_types.Gt)), None)
    high = next((m for m in field.metadata if isinstance(m, annotated_types.Le | annotated_types.Lt)), None)
    if isinstance(low, annotated_types.Ge) and isinstance(high, annotated_types.Le):
        return f"{kind} from {low.ge:g} to {high.le:g}"
    bounds = []
    if isinstance(low, annotated_types.Ge):
        bounds.append(f"of at least {low.ge:g}")
    elif isinstance(low, annotated_types.Gt):
        bounds.append(f"greater than {low.gt:g}")
    if isinstance(high, annotated_types.Le):
        bounds.append(f"at most {high.le:g}")
    elif isinstance(high, annotated_types.Lt):
        bounds.append(f"less than {high.lt:g}")
    return " ".join([kind, " and ".join(bounds)]) if bounds else kind
