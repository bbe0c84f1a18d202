"""``skynet predict``: batch predictions, chunk by chunk, from an input URL to an output URL."""

from __future__ import annotations

from datetime import datetime

import click

from skynet.cli.options import echo_json, echo_table, output_format, settings

__all__ = ["predict"]


@click.group("predict")
def predict() -> None:
    """Batch predictions: a predictor over every row of an input, results written in chunks."""


@predict.command("batch")
@click.option(
    "--predictor",
    default=None,
    help="user_model, estimation, a model (user_model@production, a name), package.module:Class "
    "or an entry point of skynet.predictors ($PREDICTOR_MODULE + $PREDICTOR_CLASS_NAME).",
)
@click.option("--model", default=None, help="Model reference for skynet's predictors (NAME or TYPE@ALIAS).")
@click.option(
    "--input",
    "input_url",
    default=None,
    help="Parquet/CSV file, folder or glob; sql:QUERY (on the store); s3://bucket/prefix; "
    "sqs://QUEUE or a queue URL ($INPUT_CTXMGR_SQS_QUEUE_URL).",
)
@click.option("--input-query", default=None, help="A SELECT on the store (or on --input's SQL URL).")
@click.option(
    "--output",
    "output_url",
    default=None,
    help="Folder (parquet parts), sql:TABLE, SQLURL#TABLE, s3://bucket/prefix (CSV), sqs://QUEUE, "
    "dynamodb://RESULTS?requests=REQUESTS. Default: {data_dir}/models/predictions/<model-id>-<date>.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1),
    default=None,
    help="Rows per chunk [10000] ($RESULT_RECORD_CHUNK_SIZE).",
)
@click.option("--engine", type=click.Choice(["local", "dask"]), default=None, help="Where to run [local].")
@click.option("--scheduler", default=None, help="A Dask scheduler's address (default: a LocalCluster).")
@click.option("--workers", type=click.IntRange(1), default=None, help="LocalCluster workers [2].")
@click.option(
    "--request-id", default=None, help="Request id [<model-id>-<date>]; a re-run replaces its results."
)
@click.option(
    "--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Date of the run [today, UTC]."
)
@click.option("--attempts", type=click.IntRange(1), default=None, help="Tries per chunk write [3].")
@click.option(
    "--max-messages",
    type=click.IntRange(1),
    default=None,
    help="SQS messages to process [50] ($MAX_PROCESSING_REQUESTS).",
)
@click.option(
    "--message-timeout",
    type=click.IntRange(1),
    default=None,
    help="Seconds a received message stays hidden [600] ($MAX_PER_REQUEST_PROCESSING_SECONDS).",
)
@click.option(
    "--retry-after",
    type=click.IntRange(0),
    default=None,
    help="Seconds before a failed message is visible again [5] ($SQS_VISIBILITYTIMEOUT_SECONDS_ON_EXCEPTION).",
)
@click.option("--s3-uri-keys", default=None, help="Message keys holding S3 URIs, comma-separated [s3_uri].")
@click.option("--progress/--no-progress", default=True, help="Show progress on stderr.")
@output_format
def batch(predictor: str | None, model: str | None, input_url: str | None, input_query: str | None,
          output_url: str | None, chunk_size: int | None, engine: str | None, scheduler: str | None,
          workers: int | None, request_id: str | None, day: datetime | None, attempts: int | None,
          max_messages: int | None, message_timeout: int | None, retry_after: int | None,
          s3_uri_keys: str | None, progress: bool, fmt: str) -> None:  # fmt: skip
    """Predict every row of --input with --predictor and write the results to --output.

    Results are written in chunks, each atomically; a failed chunk write is retried, and a
    re-run of the same request id replaces its results instead of adding to them. Options not
    given are read from the seed's environment variables (see the README).
    """
    from skynet.api.batch import batch_request, run_batch

    keys = tuple(k.strip() for k in s3_uri_keys.split(",") if k.strip()) if s3_uri_keys else None
    request = batch_request(
        {"predictor": predictor, "model": model, "input": input_url, "input_query": input_query,
         "output": output_url, "chunk_size": chunk_size, "engine": engine, "scheduler": scheduler,
         "workers": workers, "request_id": request_id, "date": day.date() if day else None,
         "attempts": attempts, "max_messages": max_messages, "message_timeout": message_timeout,
         "retry_after": retry_after, "s3_uri_keys": keys}
    )  # fmt: skip
    summary = run_batch(settings(), request, progress=progress)
    if fmt == "json":
        echo_json(summary)
        return
    requests = summary["requests"]
    head = f"request {requests[0]['request_id']}" if len(requests) == 1 else f"{len(requests)} requests"
    click.echo(f"{head}: {summary['rows']:,} rows in {summary['chunks']} chunks -> {summary['output']} "
               f"(model {summary['model']}, {summary['seconds']} s, {summary['rows_per_second']} rows/s)")  # fmt: skip
    if len(summary["requests"]) > 1:
        echo_table(
            [
                {k: r[k] for k in ("request_id", "label", "rows", "chunks", "state")}
                for r in summary["requests"]
            ]
        )
