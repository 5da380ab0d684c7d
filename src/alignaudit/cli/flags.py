"""Typer commands derived from options dataclasses: one flag per field, default and help included.

A field declared with `alignaudit.settings.setting` says how its flag differs from the field
(name, type, conversions); everything else follows from the field itself.
"""

import inspect
from collections.abc import Callable
from dataclasses import MISSING, Field, fields
from typing import Annotated, Any

import typer

from alignaudit.settings import field_default


def _field(options_type: type, name: str) -> Field:
    return next(spec for spec in fields(options_type) if spec.name == name)


def flag_annotation(options_type: type, name: str) -> Any:
    """`Annotated[type, typer.Option(...)]` for one field, to reuse it in another command."""
    spec = _field(options_type, name)
    meta = spec.metadata
    names = (meta["flag"],) if meta.get("flag") else ()
    flag_type = meta.get("flag_type") or spec.type
    return Annotated[flag_type, typer.Option(*names, help=meta.get("help"))]


def flag_default(options_type: type, name: str) -> Any:
    spec = _field(options_type, name)
    default = field_default(spec)
    if default is MISSING:
        return inspect.Parameter.empty
    show = spec.metadata.get("show")
    return show(default) if show else default


def cli_fields(options_type: type) -> list[Field]:
    return [spec for spec in fields(options_type) if spec.metadata.get("cli", True)]


def parse_flags(options_type: type, values: dict[str, Any]) -> dict[str, Any]:
    """Flag values → field values; a conversion's ValueError is a usage error on that flag."""
    parsed = dict(values)
    for spec in cli_fields(options_type):
        parse = spec.metadata.get("parse")
        if parse is None:
            continue
        try:
            parsed[spec.name] = parse(values[spec.name])
        except ValueError as exc:
            flag = spec.metadata.get("flag") or "--" + spec.name.replace("_", "-")
            raise typer.BadParameter(str(exc), param_hint=flag) from None
    return parsed


def options_command(
    app: typer.Typer, name: str, options_type: type, construct: bool = True
) -> Callable[[Callable[[Any], None]], Callable[..., None]]:
    """Register `function(options)` as command `name` with one flag per field of options_type.

    With construct=False the function gets the converted values as a dict instead (a command
    that turns some flags into several option objects, such as a fine-tuning grid).
    """

    def register(function: Callable[[Any], None]) -> Callable[..., None]:
        def command(**values: Any) -> None:
            parsed = parse_flags(options_type, values)
            function(options_type(**parsed) if construct else parsed)

        parameters = [
            inspect.Parameter(
                spec.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=flag_default(options_type, spec.name),
                annotation=flag_annotation(options_type, spec.name),
            )
            for spec in cli_fields(options_type)
        ]
        command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        command.__doc__ = function.__doc__
        command.__name__ = function.__name__
        app.command(name)(command)
        return command

    return register
