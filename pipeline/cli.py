"""The ``hypermicro`` command line. Sub-commands live next to the code they run and are attached here.

Every command module keeps its heavy imports (models, Faust, ClickHouse) inside its functions,
so importing them all here keeps ``hypermicro --help`` near a second.
"""

from __future__ import annotations

import typer

from connectors import cli as connectors_cli
from pipeline import check
from pipeline.alerts import cli as alerts_cli
from pipeline.api import serve
from pipeline.core.logs import LEVELS, configure_logging
from pipeline.core.settings import settings_problems
from pipeline.detect import voices_cli
from pipeline.evaluation import (
    bench,
    brand_sentiment,
    brands,
    buzz,
    demo,
    sentiment,
    spikes,
    topics,
    train_encoder,
    train_sentiment,
    voices,
)
from pipeline.runtime import worker
from pipeline.storage import cli as storage_cli

app = typer.Typer(help="hypermicro: streaming social listening for the long tail.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate models and detectors on labelled data.", no_args_is_help=True)
train_app = typer.Typer(help="Train model artifacts reproducibly from data.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")
app.add_typer(bench_app, name="bench")

eval_app.command("sentiment")(sentiment.command)
eval_app.command("brand-sentiment")(brand_sentiment.command)
eval_app.command("topics")(topics.command)
eval_app.command("brands")(brands.command)
eval_app.command("spikes")(spikes.command)
eval_app.command("buzz")(buzz.command)
eval_app.command("voices")(voices.command)
train_app.command("sentiment")(train_sentiment.command)
train_app.command("topics")(topics.calibrate_command)
train_app.command("encoder")(train_encoder.command)
bench_app.command("pipeline")(bench.command)
app.command("check")(check.command)
app.command("worker")(worker.command)
app.command("demo")(demo.command)
app.command("api")(serve.command)
app.command("migrate")(storage_cli.migrate_command)
app.command("connect")(connectors_cli.connect_command)
app.command("replay")(connectors_cli.replay_command)
app.command("voices")(voices_cli.command)
app.add_typer(connectors_cli.connectors_app, name="connectors")
app.add_typer(alerts_cli.alerts_app, name="alerts")


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
    try:
        app()
    except (ValidationError, SettingsError) as exc:  # settings loaded by any command: one line each
        if isinstance(exc, ValidationError) and exc.title != "Settings":
            raise
        for line in settings_problems(exc):
            typer.echo(f"config error: {line}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
