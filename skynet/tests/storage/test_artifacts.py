"""The artifact store contract: a folder, and S3 on moto's standalone server (a real
S3-compatible server on loopback; the boto3 client is never patched)."""

from __future__ import annotations

import uuid

import pytest

from skynet.errors import StorageError
from skynet.storage.artifacts import ArtifactCache, open_artifact_store, sha256_of, split_uri
from skynet.tests.conftest import aws_endpoint


def s3_bucket(monkeypatch) -> tuple[str, str]:
    """(endpoint, a new bucket's name) on the moto server, with dummy credentials."""
    endpoint = aws_endpoint()
    for name, value in [("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_SESSION_TOKEN", "testing"), ("AWS_DEFAULT_REGION", "us-east-1")]:  # fmt: skip
        monkeypatch.setenv(name, value)
    import boto3

    bucket = f"skynet-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return endpoint, bucket


def empty_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    s3 = boto3.resource("s3", endpoint_url=endpoint, region_name="us-east-1").Bucket(bucket)
    s3.objects.all().delete()
    s3.delete()


@pytest.fixture(params=["folder", pytest.param("s3", marks=pytest.mark.integration)])
def store(request, tmp_path, monkeypatch):
    if request.param == "folder":
        yield open_artifact_store(str(tmp_path / "models"))
        return
    endpoint, bucket = s3_bucket(monkeypatch)
    yield open_artifact_store(f"s3://{bucket}/models", cache=tmp_path / "cache", endpoint_url=endpoint)
    empty_bucket(endpoint, bucket)


def model_folder(path, payload: bytes = b"weights", extra: bool = False):
    path.mkdir(parents=True, exist_ok=True)
    (path / "model.npz").write_bytes(payload)
    (path / "manifest.json").write_text('{"artifact": {"file": "model.npz"}}')
    if extra:
        (path / "notes.txt").write_text("old")
    return path, sha256_of(path / "model.npz")


def test_put_then_local_copy_round_trips_the_files(store, tmp_path):
    folder, sha = model_folder(tmp_path / "src")
    uri = store.put("user_model-a", folder)
    assert uri == store.uri("user_model-a") and uri.endswith("/user_model-a")
    assert split_uri(uri) == (uri.rsplit("/", 1)[0], "user_model-a")
    assert store.names() == ["user_model-a"]
    copy = store.local_copy("user_model-a", sha, "model.npz")
    assert sorted(p.name for p in copy.iterdir()) == ["manifest.json", "model.npz"]
    assert (copy / "model.npz").read_bytes() == b"weights"
    assert store.describe()["artifacts"] == 1


def test_put_replaces_a_version_whole(store, tmp_path):
    store.put("user_model-a", model_folder(tmp_path / "v1", b"one", extra=True)[0])
    folder, sha = model_folder(tmp_path / "v2", b"two")
    store.put("user_model-a", folder)
    copy = store.local_copy("user_model-a", sha, "model.npz")
    assert sorted(p.name for p in copy.iterdir()) == ["manifest.json", "model.npz"]  # notes.txt gone
    assert (copy / "model.npz").read_bytes() == b"two"


def test_delete_and_missing_artifacts(store, tmp_path):
    folder, sha = model_folder(tmp_path / "src")
    store.put("user_model-a", folder)
    assert store.delete("user_model-a") is True
    assert store.delete("user_model-a") is False and store.names() == []
    with pytest.raises(StorageError, match="the artifact of user_model-a is missing"):
        store.local_copy("user_model-a", "00" * 32, "model.npz")


@pytest.mark.integration
def test_s3_download_is_verified_and_cached_by_sha256(tmp_path, monkeypatch):
    endpoint, bucket = s3_bucket(monkeypatch)
    try:
        store = open_artifact_store(f"s3://{bucket}", cache=tmp_path / "cache", endpoint_url=endpoint)
        folder, sha = model_folder(tmp_path / "src")
        store.put("user_model-a", folder)
        with pytest.raises(
            StorageError, match=r"model.npz is corrupt: sha256 .* does not match the registry's"
        ):
            store.local_copy("user_model-a", "ab" * 32, "model.npz")
        assert [p.name for p in (tmp_path / "cache").iterdir()] == []  # nothing unverified is kept
        copy = store.local_copy("user_model-a", sha, "model.npz")
        assert copy == tmp_path / "cache" / sha
        store.delete("user_model-a")
        assert store.local_copy("user_model-a", sha, "model.npz") == copy  # served from the cache
        (copy / "model.npz").write_bytes(b"tampered")  # a damaged entry is dropped, then fetched anew
        with pytest.raises(StorageError, match="the artifact of user_model-a is missing"):
            store.local_copy("user_model-a", sha, "model.npz")
        assert not copy.exists()
    finally:
        empty_bucket(endpoint, bucket)


@pytest.mark.integration
def test_s3_errors_are_one_line_naming_the_store(tmp_path, monkeypatch):
    endpoint, bucket = s3_bucket(monkeypatch)
    empty_bucket(endpoint, bucket)
    store = open_artifact_store(f"s3://{bucket}/p", cache=tmp_path / "cache", endpoint_url=endpoint)
    with pytest.raises(StorageError, match=rf"artifacts\[s3\]: listing artifacts in s3://{bucket}/p failed "
                                           r"\(NoSuchBucket"):  # fmt: skip
        store.names()


def test_cache_prune_keeps_only_the_named_digests(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    kept = []
    for payload in (b"a", b"b", b"c"):
        folder, sha = model_folder(tmp_path / payload.decode(), payload)
        cache.add(sha, "model.npz", lambda into, f=folder: [(into / p.name).write_bytes(p.read_bytes())
                                                           for p in f.iterdir()], "test")  # fmt: skip
        kept.append(sha)
    assert cache.prune(kept[:1]) == sorted(kept[1:])
    assert [p.name for p in (tmp_path / "cache").iterdir()] == kept[:1]


@pytest.mark.parametrize(
    ("location", "message"),
    [("ftp://host/models", r"unknown location scheme 'ftp'.*known: a folder path, file://, s3://"),
     ("s3://bucket", "needs a cache folder")],  # fmt: skip
)
def test_bad_locations_are_one_line(location, message):
    with pytest.raises(StorageError, match=message):
        open_artifact_store(location)


def test_an_s3_location_without_a_bucket_is_refused(tmp_path):
    with pytest.raises(StorageError, match="'s3://' is not s3://bucket"):
        open_artifact_store("s3://", cache=tmp_path)


def test_file_uris_open_the_folder(tmp_path):
    store = open_artifact_store((tmp_path / "m").as_uri())
    assert store.location == str(tmp_path / "m")
    assert split_uri(store.uri("user_model-a")) == ((tmp_path / "m").as_uri(), "user_model-a")
    with pytest.raises(StorageError, match="is not an artifact URI"):
        split_uri("s3://bucket")
