"""The ``hypermicro`` command line. Sub-commands live next to the code they run and are registered here."""

from __future__ import annotations

import importlib

import typer

from pipeline.core.logs import LEVELS, configure_logging

app = typer.Typer(help="hypermicro: streaming social listening for the long tail.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate models and detectors on labelled data.", no_args_is_help=True)
train_app = typer.Typer(help="Train model artifacts reproducibly from data.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")
app.add_typer(bench_app, name="bench")

# (typer group, command name, module, attribute): each attribute is a plain function whose
# parameters are typer options. Modules must be cheap to import (heavy imports inside functions).
_COMMANDS: list[tuple[typer.Typer, str, str, str]] = [
    (eval_app, "sentiment", "pipeline.evaluation.sentiment", "command"),
    (eval_app, "brand-sentiment", "pipeline.evaluation.brand_sentiment", "command"),
    (eval_app, "topics", "pipeline.evaluation.topics", "command"),
    (eval_app, "brands", "pipeline.evaluation.brands", "command"),
    (eval_app, "spikes", "pipeline.evaluation.spikes", "command"),
    (eval_app, "buzz", "pipeline.evaluation.buzz", "command"),
    (eval_app, "voices", "pipeline.evaluation.voices", "command"),
    (train_app, "sentiment", "pipeline.evaluation.train_sentiment", "command"),
    (train_app, "topics", "pipeline.evaluation.topics", "calibrate_command"),
    (app, "check", "pipeline.check", "command"),
    (app, "worker", "pipeline.runtime.worker", "command"),
    (app, "demo", "pipeline.evaluation.demo", "command"),
    (app, "api", "pipeline.api.serve", "command"),
    (app, "migrate", "pipeline.storage.cli", "migrate_command"),
    (app, "connect", "connectors.cli", "connect_command"),
    (app, "replay", "connectors.cli", "replay_command"),
    (app, "voices", "pipeline.detect.voices_cli", "command"),
    (bench_app, "pipeline", "pipeline.evaluation.bench", "command"),
]
# (name, module, attribute) of whole typer sub-apps.
_GROUPS: list[tuple[str, str, str]] = [
    ("connectors", "connectors.cli", "connectors_app"),
    ("alerts", "pipeline.alerts.cli", "alerts_app"),
]


class CommandLoadError(RuntimeError):
    """A registered command's module or attribute is missing: a broken install, never optional."""


def _load(module: str, attr: str) -> object:
    """``module.attr``; a missing module or attribute raises :class:`CommandLoadError`
    (commands are part of the product: none may silently disappear)."""
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise CommandLoadError(f"cannot load command {module}:{attr}: {exc}") from exc


def _register() -> None:
    """Attach every command and sub-app (imports their modules, which keep heavy imports inside functions)."""
    for group, name, module, attr in _COMMANDS:
        fn = _load(module, attr)
        if not callable(fn):
            raise CommandLoadError(f"{module}:{attr} is not a function")
        group.command(name)(fn)
    for name, module, attr in _GROUPS:
        sub = _load(module, attr)
        if not isinstance(sub, typer.Typer):
            raise CommandLoadError(f"{module}:{attr} is not a typer app")
        app.add_typer(sub, name=name)


@app.callback()
def _options(
    log_level: str = typer.Option("INFO", "--log-level", envvar="HYPERMICRO_LOG_LEVEL", help="Level of hypermicro's own logs (libraries log from WARNING)."),
    log_json: bool = typer.Option(False, "--log-json", envvar="HYPERMICRO_LOG_JSON", help="Logs as one JSON object per line."),
) -> None:
    """Options for every command: logging is configured once, here."""
    if log_level.upper() not in LEVELS:
        raise typer.BadParameter(f"{log_level!r} is not one of {', '.join(LEVELS)}", param_hint="--log-level")
    configure_logging(log_level, json_lines=log_json)


def main() -> None:
    """Console-script entry point."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    configure_logging()  # until the options are parsed (and for --help)
    _register()
    try:
        app()
    except (ValidationError, SettingsError) as exc:  # settings loaded by any command: one line each
        if isinstance(exc, ValidationError) and exc.title != "Settings":
            raise
        from pipeline.core.settings import settings_problems

        for line in settings_problems(exc):
            typer.echo(f"config error: {line}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
