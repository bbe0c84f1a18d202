"""Batch I/O: where batch predictions read rows and write results, chosen by URL.

``open_input(url)`` -> :class:`BatchInput`: parquet/CSV files or folders (a path or
``file://``), ``sql:QUERY`` (a query on the store) or a SQL URL with a query, ``s3://bucket/prefix``
(the parquet/CSV objects there), ``sqs://QUEUE`` or a queue URL (messages pointing at S3
objects). ``open_output(url)`` -> :class:`BatchOutput`: a folder of parquet parts,
``sql:TABLE`` / ``SQLURL#TABLE``, ``s3://bucket/prefix`` (CSV objects), ``sqs://QUEUE``,
``dynamodb://RESULTS?requests=REQUESTS``. The contract (atomic, idempotent chunk writes) is in
:mod:`skynet.storage.batch._base`; AWS clients are built from :class:`AwsOptions`
(boto3 is imported only when an AWS URL is used).
"""

from skynet.storage.batch._aws import AwsOptions
from skynet.storage.batch._base import (
    REQUEST_ID,
    RESULT_KEYS,
    BatchInput,
    BatchOutput,
    Claim,
    ResultChunk,
    Source,
    row_id,
    row_ids,
    source_digest,
)
from skynet.storage.batch._registry import (
    OutputSpec,
    input_schemes,
    open_input,
    open_output,
    output_schemes,
    register_output,
)

__all__ = [
    "AwsOptions",
    "BatchInput",
    "BatchOutput",
    "Claim",
    "ResultChunk",
    "Source",
    "OutputSpec",
    "open_input",
    "open_output",
    "input_schemes",
    "output_schemes",
    "register_output",
    "row_id",
    "row_ids",
    "source_digest",
    "REQUEST_ID",
    "RESULT_KEYS",
]
