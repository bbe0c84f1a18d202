"""Batch inference: a predictor over every row of an input, results written in chunks to an output.

``run_batch(settings, BatchRequest(...))`` is what ``skynet predict batch`` runs:

1. the predictor: one of skynet's (``user_model``, ``estimation``, or a model reference such
   as ``user_model@production`` or a model's name), ``package.module:Class`` or an entry point
   of the ``skynet.predictors`` group (:func:`load_predictor`);
2. the input and output, chosen by URL (:mod:`skynet.storage.batch`); the output defaults to
   ``{data_dir}/models/predictions/<model-id>-<date>/`` (parquet parts);
3. before anything is written, every source's columns are checked against the predictor's
   and the output is checked to be usable: bad input is one line and nothing written;
4. each request (one for files, S3 and SQL; one per message for SQS) runs on an engine
   (``local``, or ``dask``: one task per input file), chunk by chunk; a failed chunk write is
   retried; a chunk is written atomically and again-written chunks replace themselves, so a
   re-run of the same request id (by default ``<model-id>-<date>``) never duplicates results.

Every setting can also come from the seed's environment variables (:data:`SEED_ENVIRONMENT`,
the table in the README), below the command line's options.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from skynet.api._batch_engine import open_engine
from skynet.api._context import records_url
from skynet.api.models import load_trained
from skynet.config import Settings
from skynet.errors import ConfigError, DataError, ModelError, SkynetError, StorageError, brief
from skynet.models.predictors import Predictor

__all__ = [
    "BatchRequest",
    "SEED_ENVIRONMENT",
    "batch_request",
    "load_predictor",
    "run_batch",
    "predictions_path",
]


@dataclass(frozen=True)
class BatchRequest:
    """What ``skynet predict batch`` was asked (see its options)."""

    predictor: str
    input: str
    output: str = ""
    input_query: str | None = None
    model: str | None = None
    chunk_size: int = 10_000
    engine: str = "local"
    scheduler: str | None = None
    workers: int = 2
    processes: bool = True
    request_id: str | None = None
    date: date | None = None
    attempts: int = 3
    max_messages: int = 50
    message_timeout: int = 600
    retry_after: int = 5
    s3_uri_keys: tuple[str, ...] = ("s3_uri",)
    #: Per-service AWS endpoints, e.g. (("sqs", "http://127.0.0.1:5000"),).
    endpoints: tuple[tuple[str, str], ...] = field(default=())


#: The seed's environment variables: (variable, option it sets, what it holds). An option
#: given on the command line wins; the README's table is this one.
SEED_ENVIRONMENT: tuple[tuple[str, str, str], ...] = (
    ("PREDICTOR_MODULE", "--predictor", "module of the predictor class (with PREDICTOR_CLASS_NAME: module:Class)"),
    ("PREDICTOR_CLASS_NAME", "--predictor", "its class name (default Predictor)"),
    ("INPUT_CTXMGR_SQS_QUEUE_URL", "--input", "queue whose messages point at S3 objects"),
    ("INPUT_CTXMANAGER_SQS_QUEUE_URL", "--input", "the same (the spelling of the seed's README)"),
    ("OUTPUT_CTXMGR_SQS_QUEUE_URL", "--output", "queue the results go to"),
    ("OUTPUT_CTXMGR_OUTPUT_S3_BUCKET", "--output", "bucket of the CSV results: s3://BUCKET/PREFIX"),
    ("OUTPUT_CTXMGR_OUTPUT_S3_PREFIX", "--output", "prefix in that bucket"),
    ("OUTPUT_CTXMGR_RESULTS_TABLENAME", "--output", "DynamoDB result table: dynamodb://RESULTS?requests=REQUESTS"),
    ("OUTPUT_CTXMGR_REQUESTS_TABLENAME", "--output", "DynamoDB request-state table"),
    ("RESULT_RECORD_CHUNK_SIZE", "--chunk-size", "rows per chunk written"),
    ("MAX_PROCESSING_REQUESTS", "--max-messages", "SQS messages to process before stopping"),
    ("MAX_PER_REQUEST_PROCESSING_SECONDS", "--message-timeout", "seconds a received message stays hidden"),
    ("SQS_VISIBILITYTIMEOUT_SECONDS_ON_EXCEPTION", "--retry-after", "seconds before a failed message is visible again"),
    ("REQUEST_S3URI_KEYS", "--s3-uri-keys", "comma-separated message keys holding S3 URIs"),
    ("S3_ENDPOINT", "aws.endpoint_url", "S3's endpoint, before aws.endpoint_url"),
    ("SQS_ENDPOINT", "aws.endpoint_url", "SQS's endpoint, before aws.endpoint_url"),
    ("DYNAMODB_ENDPOINT", "aws.endpoint_url", "DynamoDB's endpoint, before aws.endpoint_url"),
)  # fmt: skip


def _positive(environ: Mapping[str, str], name: str) -> int | None:
    text = environ.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"environment variable {name}: expected a positive integer, got {brief(text, 40)}")
    return int(text)


def _seed_output(environ: Mapping[str, str]) -> str | None:
    found = {}
    if environ.get("OUTPUT_CTXMGR_SQS_QUEUE_URL"):
        found["OUTPUT_CTXMGR_SQS_QUEUE_URL"] = environ["OUTPUT_CTXMGR_SQS_QUEUE_URL"]
    if environ.get("OUTPUT_CTXMGR_OUTPUT_S3_BUCKET"):
        prefix = environ.get("OUTPUT_CTXMGR_OUTPUT_S3_PREFIX", "").strip("/")
        found["OUTPUT_CTXMGR_OUTPUT_S3_BUCKET"] = f"s3://{environ['OUTPUT_CTXMGR_OUTPUT_S3_BUCKET']}/{prefix}"
    if environ.get("OUTPUT_CTXMGR_RESULTS_TABLENAME"):
        requests = environ.get("OUTPUT_CTXMGR_REQUESTS_TABLENAME", "")
        found["OUTPUT_CTXMGR_RESULTS_TABLENAME"] = (
            f"dynamodb://{environ['OUTPUT_CTXMGR_RESULTS_TABLENAME']}"
            + (f"?requests={requests}" if requests else "")
        )
    if len(found) > 1:
        raise ConfigError(f"environment variables {' and '.join(found)} both name an output: keep one")
    return next(iter(found.values()), None)


def batch_request(options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> BatchRequest:
    """A :class:`BatchRequest` from the command line's options (None = not given) and the seed's
    environment variables (:data:`SEED_ENVIRONMENT`), in that order.

    Raises:
        ConfigError: no predictor or no input anywhere, or an environment value is malformed.
    """
    import os

    env = os.environ if environ is None else environ
    given = {k: v for k, v in options.items() if v is not None and v != ()}
    seed: dict[str, Any] = {}
    if env.get("PREDICTOR_MODULE"):
        seed["predictor"] = f"{env['PREDICTOR_MODULE']}:{env.get('PREDICTOR_CLASS_NAME') or 'Predictor'}"
    queue = env.get("INPUT_CTXMGR_SQS_QUEUE_URL") or env.get("INPUT_CTXMANAGER_SQS_QUEUE_URL")
    if queue:
        seed["input"] = queue
    if (output := _seed_output(env)) is not None:
        seed["output"] = output
    numbers = {"chunk_size": "RESULT_RECORD_CHUNK_SIZE", "max_messages": "MAX_PROCESSING_REQUESTS",
               "message_timeout": "MAX_PER_REQUEST_PROCESSING_SECONDS"}  # fmt: skip
    seed.update({key: value for key, name in numbers.items() if (value := _positive(env, name)) is not None})
    retry = env.get("SQS_VISIBILITYTIMEOUT_SECONDS_ON_EXCEPTION", "").strip()
    if retry:
        if not retry.isdigit():
            raise ConfigError(
                f"SQS_VISIBILITYTIMEOUT_SECONDS_ON_EXCEPTION: expected seconds, got {brief(retry, 40)}"
            )
        seed["retry_after"] = int(retry)
    if env.get("REQUEST_S3URI_KEYS"):
        seed["s3_uri_keys"] = tuple(k.strip() for k in env["REQUEST_S3URI_KEYS"].split(",") if k.strip())
    endpoints = [
        (s, env[f"{s.upper()}_ENDPOINT"])
        for s in ("s3", "sqs", "dynamodb")
        if env.get(f"{s.upper()}_ENDPOINT")
    ]
    if endpoints:
        seed["endpoints"] = tuple(endpoints)
    merged = {**seed, **given}
    if given.get("input_query") and "input" not in given:
        merged["input"] = f"sql:{given['input_query']}"  # a query on the store
        merged.pop("input_query")
    for key, flag, variable in (
        ("predictor", "--predictor", "PREDICTOR_MODULE"),
        ("input", "--input", "INPUT_CTXMGR_SQS_QUEUE_URL"),
    ):
        if not merged.get(key):
            raise ConfigError(f"no predictor given: pass {flag} (or set {variable})" if key == "predictor"
                              else f"no input given: pass {flag} or --input-query (or set {variable})")  # fmt: skip
    return BatchRequest(**merged)


# -- the predictor ----------------------------------------------------------------------------
def _model_type_of(ref: str) -> str | None:
    """The model type a model reference names (``TYPE@ALIAS`` or a model's name), if any."""
    from skynet.models import MODELS

    head = ref.split("@", 1)[0]
    if "@" in ref:
        return head if head in MODELS else None
    return next((t for t in MODELS if ref.startswith(f"{t}-")), None)


def load_predictor(settings: Settings, ref: str, model: str | None = None) -> Predictor:
    """The predictor ``ref`` names, built and ready.

    Args:
        ref: ``user_model`` / ``estimation`` (the newest model of the type, or ``TYPE@production``
            once the registry has aliases), a model reference (``user_model@production``, a
            model's name), ``package.module:Class`` or a ``skynet.predictors`` entry point.
        model: the model reference for a predictor that wraps a skynet model (overrides one in ``ref``).

    Raises:
        ModelError: no such predictor or model, or the predictor cannot be built;
        StorageError: the model store cannot be read.
    """
    from skynet.models.predictors import PREDICTORS, predictor_class

    model_ref = model
    if ref not in PREDICTORS and ":" not in ref and (model_type := _model_type_of(ref)) is not None:
        ref, model_ref = model_type, model or ref
    cls = predictor_class(ref)
    if cls.model_type is not None:
        # the reference is passed through as given: NAME today, TYPE@ALIAS once the registry resolves it
        name, loaded = load_trained(settings, cls.model_type, model_ref)
        return cls(loaded, model_id=name)
    if model_ref is not None:
        raise DataError(f"predictor {brief(ref, 80)} loads its own model: --model does not apply to it")
    try:
        return cls()
    except SkynetError:
        raise
    except Exception as exc:  # noqa: BLE001 - a third party's constructor: any failure is one line
        raise ModelError(f"predictor {brief(ref, 80)} cannot be built: {type(exc).__name__}: {exc}") from None


def predictions_path(settings: Settings, model_id: str, day: date) -> str:
    """``{data_dir}/models/predictions/<model-id>-<date>`` (seed 002's naming)."""
    return settings.path(f"{{data_dir}}/models/predictions/{model_id}-{day.isoformat()}")


def _output_url(settings: Settings, output: str, model_id: str, day: date) -> str:
    if output in ("", "predictions"):
        return predictions_path(settings, model_id, day)
    expanded = output.replace("{model_id}", model_id).replace("{date}", day.isoformat())
    return settings.path(expanded) if "://" not in expanded and not expanded.startswith("sql:") else expanded


def _aws(settings: Settings, request: BatchRequest) -> Any:
    from skynet.storage.batch import AwsOptions

    return AwsOptions(settings.aws.endpoint_url, settings.aws.region, request.endpoints)


# -- running ------------------------------------------------------------------------------------
def run_batch(settings: Settings, request: BatchRequest, progress: bool = True) -> dict[str, Any]:
    """Run a batch prediction (see the module docstring).

    Returns:
        ``model``, ``predictor``, ``input``, ``output`` (where the results are), ``engine``,
        ``requests`` (per request: id, label, rows, chunks, sources, state, error),
        ``rows``, ``chunks``, ``seconds``, ``rows_per_second``.

    Raises:
        DataError: bad input (missing columns, a malformed message); ModelError: bad predictor;
        StorageError: an input or output that cannot be read or written; ConfigError: a bad
            option. With a queue input, the other messages are processed first, then the first
            failure is raised with how many failed.
    """
    from skynet.storage.batch import REQUEST_ID, OutputSpec, open_input

    if request.chunk_size < 1:
        raise ConfigError(f"--chunk-size must be at least 1, got {request.chunk_size}")
    engine = open_engine(request.engine, request.scheduler, request.workers, request.processes)
    predictor = load_predictor(settings, request.predictor, request.model)
    day = request.date or datetime.now(UTC).date()
    request_id = request.request_id or f"{predictor.model_id}-{day.isoformat()}"
    if not REQUEST_ID.match(request_id):
        raise ConfigError(
            f"request id {brief(request_id, 80)} is not a plain id (letters, digits, '_.:@+=-')"
        )
    aws = _aws(settings, request)
    store_url = records_url(settings) if "sql:" in (request.input[:4], request.output[:4]) else None
    spec = OutputSpec(
        _output_url(settings, request.output, predictor.model_id, day), {"store_url": store_url, "aws": aws}
    )
    sqs = {"s3_uri_keys": request.s3_uri_keys, "max_messages": request.max_messages,
           "processing_timeout": request.message_timeout, "retry_after": request.retry_after}  # fmt: skip
    started = time.perf_counter()
    done: list[dict[str, Any]] = []
    errors: list[SkynetError] = []
    with open_input(request.input, store_url=store_url, query=request.input_query, aws=aws, sqs=sqs) as source, \
            spec.open() as output:  # fmt: skip
        chunk_size = min(request.chunk_size, output.max_rows or request.chunk_size)
        output.check()
        meta = {"model_id": predictor.model_id, "input": request.input, "output": spec.url}
        with engine:
            for claim in source.claims():
                rid = claim.request_id or request_id
                run = _Run(claim, rid, predictor, output, spec, chunk_size, request.attempts)
                done.append(run.go(engine, meta, progress))
                if run.error is not None:
                    errors.append(run.error)
                    if not source.continue_after_failure:
                        break
    seconds = time.perf_counter() - started
    rows = sum(r["rows"] for r in done)
    summary = {
        "model": predictor.model_id, "predictor": type(predictor).__name__, "input": request.input,
        "output": output.describe(), "engine": request.engine, "requests": done, "rows": rows,
        "chunks": sum(r["chunks"] for r in done), "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1) if seconds > 0 else None,
    }  # fmt: skip
    _raise_failures(done, errors)
    return summary


def _raise_failures(done: list[dict[str, Any]], errors: list[SkynetError]) -> None:
    """Raise the first failure; with several requests (a queue), say how many failed."""
    if not errors:
        return
    first = errors[0]
    if len(done) == 1:
        raise first
    label = next(r["label"] for r in done if r["state"] == "error")
    adapter = getattr(first, "adapter", "")
    text = (f"{len(errors)} of {len(done)} requests failed (each returns to the queue); first, {label}: "
            f"{str(first).removeprefix(adapter + ': ') if adapter else first}")  # fmt: skip
    if isinstance(first, StorageError):
        raise StorageError(first.adapter, text)
    raise type(first)(text)


@dataclass
class _Run:
    """One claimed request: check, start, predict every source, finish (or fail)."""

    claim: Any
    request_id: str
    predictor: Predictor
    output: Any
    spec: Any
    chunk_size: int
    attempts: int
    started: bool = False
    error: SkynetError | None = None

    def go(self, engine: Any, meta: dict[str, Any], progress: bool) -> dict[str, Any]:
        record: dict[str, Any] = {"request_id": self.request_id, "label": self.claim.label, "rows": 0,
                                  "chunks": 0, "sources": len(self.claim.sources), "state": "done"}  # fmt: skip
        try:
            if self.claim.error is not None:
                raise self.claim.error
            self._preflight()
            self.output.start(self.request_id, meta)
            self.started = True
            with _bar(progress, self.claim, engine.name) as bar:
                record["rows"], record["chunks"] = engine.run(
                    self.claim.sources, self.predictor, self.output, self.spec, self.request_id,
                    self.chunk_size, self.attempts, bar.update,
                )  # fmt: skip
            self.output.finish(self.request_id, record)
            self.claim.done()
        except SkynetError as exc:
            record.update(state="error", error=str(exc))
            self.error = exc
            self._failed(exc)
        except BaseException as exc:  # a bug or an interrupt: the request is not left "running"
            self._failed(exc)
            raise
        return record

    def _preflight(self) -> None:
        """Every source has the predictor's columns, before anything is written."""
        for source in self.claim.sources:
            self.predictor.check_columns(source.columns(), where=source.key)

    def _failed(self, exc: BaseException) -> None:
        try:
            if self.started:
                self.output.fail(self.request_id, str(exc))
        finally:
            self.claim.failed(exc)


def _bar(progress: bool, claim: Any, engine: str) -> Any:
    from tqdm import tqdm

    counts = [s.rows() for s in claim.sources] if progress else []
    total = sum(counts) if counts and all(c is not None for c in counts) else None
    return tqdm(total=total, desc=f"predict {claim.label}"[:60], unit="row", unit_scale=True,
                disable=None if progress else True, leave=False)  # fmt: skip
