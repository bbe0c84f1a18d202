"""AWS clients for the batch adapters (S3, SQS, DynamoDB), built from plain picklable options.

boto3 is imported only here, when an AWS URL is used (``pip install 'skynet[aws]'``).
Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID``..., a profile, an instance
role); the endpoint is AWS itself unless ``aws.endpoint_url`` (or a per-service endpoint, the
seed's ``S3_ENDPOINT`` / ``SQS_ENDPOINT`` / ``DYNAMODB_ENDPOINT``) names another server, such
as moto's in the tests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from skynet.errors import StorageError

__all__ = ["AwsOptions", "aws_errors", "split_s3"]

_CLIENTS: dict[tuple[str, str | None, str], Any] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class AwsOptions:
    """Where the AWS services are.

    Attributes:
        endpoint_url: every service's endpoint ("" = AWS itself).
        region: the region (``aws.region``).
        endpoints: per-service endpoints, e.g. ``(("sqs", "http://..."),)``, before ``endpoint_url``.
    """

    endpoint_url: str = ""
    region: str = "us-east-1"
    endpoints: tuple[tuple[str, str], ...] = ()

    def endpoint(self, service: str) -> str | None:
        """The endpoint of ``service`` (None = AWS's own)."""
        return dict(self.endpoints).get(service) or self.endpoint_url or None

    def client(self, service: str) -> Any:
        """A boto3 client of ``service``, one per process and endpoint (clients are thread-safe).

        Raises:
            StorageError: boto3 is not installed.
        """
        key = (service, self.endpoint(service), self.region)
        with _LOCK:
            client = _CLIENTS.get(key)
            if client is None:
                try:
                    import boto3
                    from botocore.config import Config
                except ImportError:
                    raise StorageError(
                        f"batch[{service}]", "boto3 is not installed (pip install 'skynet[aws]')"
                    ) from None
                config = Config(
                    connect_timeout=10, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"}
                )
                # a session per client: boto3's default session is not thread-safe to build clients from
                client = boto3.session.Session().client(
                    service, endpoint_url=key[1], region_name=self.region, config=config
                )
                _CLIENTS[key] = client
            return client


def aws_errors() -> tuple[type[BaseException], ...]:
    """botocore's exception types (empty when boto3 is missing: the client reports that)."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return ()
    return (BotoCoreError, ClientError)


def split_s3(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``.

    Raises:
        StorageError: no bucket.
    """
    rest = url.split("://", 1)[1] if "://" in url else url
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StorageError("batch[s3]", f"{url!r} names no bucket (expected s3://bucket/prefix)")
    return bucket, prefix
