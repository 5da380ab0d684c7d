"""Settings declared once: an options dataclass field carries its default and its help text.

The command line is derived from the dataclasses (`cli/flags.py`), the way TRL's `TrlParser`
derives flags from its configs, so a default or a help text is written in one place. A field
whose command-line form differs from its Python form (a comma list for a list, a grid of numbers)
names the flag's type and the two conversions.
"""

from collections.abc import Callable
from dataclasses import MISSING, Field, field
from typing import Any


def setting(
    default: Any = MISSING,
    *,
    help: str | None = None,
    default_factory: Callable[[], Any] | Any = MISSING,
    flag: str | None = None,
    flag_type: Any = None,
    parse: Callable[[Any], Any] | None = None,
    show: Callable[[Any], Any] | None = None,
    cli: bool = True,
) -> Any:
    """A dataclass field with what the command line needs to know about it.

    flag: the option name when it is not the field's (`--judge` for `judges`);
    flag_type: the type the flag takes when it is not the field's (str for a comma list);
    parse: flag value -> field value; show: field default -> flag default; cli=False: no flag.
    """
    metadata = {
        "help": help,
        "flag": flag,
        "flag_type": flag_type,
        "parse": parse,
        "show": show,
        "cli": cli,
    }
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def comma_list(
    default: list[Any],
    *,
    help: str,
    parse: Callable[[str], list[Any]],
    show: Callable[[list[Any]], str],
    flag: str | None = None,
) -> Any:
    """A list field that the command line takes as one comma-separated value."""
    return setting(
        default_factory=lambda: list(default),
        help=help,
        flag=flag,
        flag_type=str,
        parse=parse,
        show=show,
    )


def split_names(value: str) -> list[str]:
    """A comma list of names (judges, conditions); at least one."""
    names = [part.strip() for part in value.split(",") if part.strip()]
    if not names:
        raise ValueError("give at least one name")
    return names


def join_names(names: list[str]) -> str:
    return ",".join(names)


def join_numbers(values: list[float]) -> str:
    return ",".join(f"{value:g}" for value in values)


def field_default(spec: Field) -> Any:
    if spec.default is not MISSING:
        return spec.default
    if spec.default_factory is not MISSING:
        return spec.default_factory()
    return MISSING


def retry_errors_setting() -> Any:
    return setting(
        True,
        help="On resume, redo failed generations (empty or filtered replies) and judge errors.",
    )


def timeout_setting() -> Any:
    return setting(120.0, help="Seconds to wait for each request to a generation or judge server.")
