"""Batch I/O on files and SQL: inputs read in chunks, outputs write chunks atomically and idempotently.

The SQL output runs on SQLite, MariaDB and PostgreSQL (``integration`` for the servers).
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest

from skynet.errors import DataError, StorageError
from skynet.storage.batch import ResultChunk, open_input, open_output, row_id
from skynet.tests.storage.conftest import SQL_BACKENDS, server_url


def results(request_id: str, source: str, first: int, n: int, value: float = 1.0) -> ResultChunk:
    """A chunk of ``n`` result rows of ``source`` from row ``first`` (``value`` + row in ``p``)."""
    rows = np.arange(first, first + n)
    frame = pd.DataFrame(
        {"request_id": request_id, "row_id": [row_id(source, int(r)) for r in rows], "source": source,
         "source_row": rows, "device_id": pd.array([f"d{r}" for r in rows], dtype="string"),
         "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(rows, unit="min"),
         "p": value + rows.astype(float)}
    )  # fmt: skip
    return ResultChunk(request_id, source, first, frame)


# -- file inputs ------------------------------------------------------------------------------
@pytest.fixture
def folder(tmp_path):
    """A folder of two data files (parquet and gzipped CSV), a nested one, and files to skip."""
    data = tmp_path / "in"
    (data / "sub").mkdir(parents=True)
    frame = pd.DataFrame({"temperature": np.arange(25.0), "device_id": [f"d{i}" for i in range(25)]})
    frame.iloc[:10].to_parquet(data / "a.parquet")
    frame.iloc[10:20].to_csv(data / "b.csv.gz", index=False)
    frame.iloc[20:].to_parquet(data / "sub" / "c.pq")
    (data / ".hidden.parquet").write_text("not parquet")
    (data / "_SUCCESS").write_text("")
    (data / "notes.txt").write_text("skip me")
    return data, frame


def test_folder_input_reads_every_data_file_in_chunks(folder):
    data, frame = folder
    (claim,) = list(open_input(str(data)).claims())
    assert [s.key for s in claim.sources] == [
        str(data / "a.parquet"),
        str(data / "b.csv.gz"),
        str(data / "sub/c.pq"),
    ]
    assert [s.rows() for s in claim.sources] == [10, None, 5]  # a CSV's count is not cheap
    assert all(s.columns() == ["temperature", "device_id"] for s in claim.sources)
    chunks = [chunk for s in claim.sources for chunk in s.chunks(4)]
    assert [len(c) for c in chunks] == [4, 4, 2, 4, 4, 2, 4, 1]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), frame)


def test_file_url_and_glob_inputs(folder):
    data, _ = folder
    (one,) = list(open_input(f"file://{data}/a.parquet").claims())
    assert [s.key for s in one.sources] == [str(data / "a.parquet")]
    (globbed,) = list(open_input(f"{data}/**/*.p*").claims())
    assert [s.key.rsplit("/", 1)[1] for s in globbed.sources] == ["a.parquet", "c.pq"]


def test_missing_empty_or_unreadable_file_input_is_one_line(folder, tmp_path):
    data, _ = folder
    with pytest.raises(StorageError, match=r"batch\[file\]: input .*/nope does not exist"):
        list(open_input(str(tmp_path / "nope")).claims())
    (tmp_path / "empty").mkdir()
    with pytest.raises(StorageError, match="no .parquet or .csv files"):
        list(open_input(str(tmp_path / "empty")).claims())
    (data / "broken.parquet").write_bytes(b"PAR1 this is not really parquet")
    (claim,) = list(open_input(str(data)).claims())
    broken = next(s for s in claim.sources if s.key.endswith("broken.parquet"))
    with pytest.raises(StorageError, match=r"cannot read the columns of .*broken\.parquet"):
        broken.columns()
    with pytest.raises(DataError, match="expected a .parquet, .pq, .csv or .csv.gz file"):
        list(open_input(str(data / "notes.txt")).claims())


def test_unknown_scheme_lists_the_known_ones():
    with pytest.raises(StorageError, match=r"unknown input URL scheme 'ftp'.*known: a path, .*s3://.*sqs://"):
        open_input("ftp://host/file")
    with pytest.raises(StorageError, match=r"unknown output URL scheme 'kafka'.*dynamodb://"):
        open_output("kafka://topic")


# -- parquet folder output ----------------------------------------------------------------------
def _read_folder(path):
    return pd.read_parquet(path).sort_values("row_id", ignore_index=True)


def test_parquet_output_writes_parts_and_a_rerun_replaces_them(tmp_path):
    out = open_output(str(tmp_path / "preds"))
    out.check()
    assert not (tmp_path / "preds").exists()  # checking writes nothing
    for first in (0, 4, 8):
        out.write(results("r1", "src-a", first, 4 if first < 8 else 2))
    out.write(results("r1", "src-b", 0, 3))
    assert len(list((tmp_path / "preds").glob("part-*.parquet"))) == 4
    # the same request again, with another chunk size: no row twice, values replaced
    for first in (0, 5):
        out.write(results("r1", "src-a", first, 5, value=100.0))
    frame = _read_folder(tmp_path / "preds")
    assert len(frame) == 13 and frame["row_id"].is_unique
    assert frame.loc[frame["source"] == "src-a", "p"].tolist() == [100.0 + r for r in range(10)]
    assert not list((tmp_path / "preds").glob(".*"))  # no temporary file left


def test_parquet_output_failed_write_leaves_no_part(tmp_path):
    out = open_output(str(tmp_path / "preds"))
    out.write(results("r1", "s", 0, 3))
    bad = results("r1", "s", 0, 3, value=5.0)
    bad.frame["p"] = [1.0, "text", {"a": 1}]  # pyarrow cannot store that column
    with pytest.raises(StorageError, match=r"batch\[parquet\]: cannot write chunk"):
        out.write(bad)
    assert sorted(p.name for p in (tmp_path / "preds").iterdir()) == [f"part-{bad.key}.parquet"]
    assert _read_folder(tmp_path / "preds")["p"].tolist() == [1.0, 2.0, 3.0]  # the old part, whole


def test_parquet_output_refuses_an_unwritable_place(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="cannot write under"):
        open_output(str(tmp_path / "file" / "preds")).check()


# -- SQL: a query in, a table out, on every backend ----------------------------------------------
@pytest.fixture(params=SQL_BACKENDS)
def sql_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/batch.db"
    return server_url(request.param)


@pytest.fixture
def table(sql_url):
    """A fresh table name, dropped afterwards."""
    name = f"batch_{uuid.uuid4().hex[:10]}"
    yield name
    from sqlalchemy import MetaData, Table

    from skynet.storage.batch._sql import _engine

    engine = _engine(sql_url)
    with engine.begin() as connection:
        Table(name, MetaData()).drop(connection, checkfirst=True)


def _table_rows(url: str, name: str) -> pd.DataFrame:
    from sqlalchemy import text

    from skynet.storage.batch._sql import _engine

    with _engine(url).connect() as connection:
        return pd.read_sql(text(f"SELECT * FROM {name} ORDER BY request_id, row_id"), connection)


def test_sql_output_rerun_and_other_chunk_sizes_never_duplicate(sql_url, table):
    out = open_output(f"{sql_url}#{table}")
    out.check()
    for first in (0, 4):
        out.write(results("r1", "src", first, 4))
    out.write(results("r2", "src", 0, 2))
    for first in (0, 3, 6):  # r1 again, chunks of 3: replaces, never adds
        out.write(results("r1", "src", first, 3 if first < 6 else 2, value=50.0))
    rows = _table_rows(sql_url, table)
    assert len(rows) == 10 and not rows.duplicated(["request_id", "row_id"]).any()
    assert rows.loc[rows["request_id"] == "r1", "p"].tolist() == [50.0 + r for r in range(8)]
    assert rows.loc[rows["request_id"] == "r2", "p"].tolist() == [1.0, 2.0]
    assert pd.to_datetime(rows["timestamp"]).iloc[1] == pd.Timestamp("2025-01-01 00:01")


def test_sql_output_failed_chunk_rolls_back_whole(sql_url, table):
    """A chunk that fails on its last row leaves the table as it was (the deleted rows too)."""
    out = open_output(f"{sql_url}#{table}")
    out.write(results("r1", "src", 0, 5))
    bad = results("r1", "src", 0, 6, value=9.0)
    bad.frame.loc[5, "row_id"] = bad.frame.loc[2, "row_id"]  # the unique key fails on the 6th insert
    with pytest.raises(StorageError, match=r"cannot write chunk"):
        out.write(bad)
    rows = _table_rows(sql_url, table)
    assert rows["p"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_sql_output_refuses_a_table_of_other_results(sql_url, table):
    out = open_output(f"{sql_url}#{table}")
    out.write(results("r1", "src", 0, 2))
    other = results("r1", "src", 0, 2)
    other.frame["new_column"] = 1.0
    with pytest.raises(StorageError, match=rf"table {table} lacks the column\(s\) new_column"):
        open_output(f"{sql_url}#{table}").write(other)


def test_bad_table_names_and_missing_table_are_one_line(sql_url):
    with pytest.raises(DataError, match="is not a table name"):
        open_output(f"{sql_url}#drop table x")
    with pytest.raises(StorageError, match=r"needs a table after '#'"):
        open_output(sql_url)
    with pytest.raises(DataError, match="is not a table name"):
        open_output(f"{sql_url}#")


def test_sql_query_input_pages_through_the_rows(sql_url, table):
    out = open_output(f"{sql_url}#{table}")
    out.write(results("r1", "src", 0, 7))
    (claim,) = list(open_input(sql_url, query=f"SELECT row_id, p FROM {table} ORDER BY row_id;").claims())
    (source,) = claim.sources
    assert source.columns() == ["row_id", "p"] and source.rows() == 7
    pages = list(source.chunks(3))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert pd.concat(pages)["p"].tolist() == [1.0 + r for r in range(7)]


def test_sql_input_refuses_what_is_not_a_select(sql_url):
    with pytest.raises(DataError, match="must be a SELECT"):
        open_input(sql_url, query="DELETE FROM devices")
    with pytest.raises(DataError, match="needs a query"):
        open_input(sql_url)
    with pytest.raises(DataError, match=r"a query \(--input-query\) reads a SQL URL, not 'rows.parquet'"):
        open_input("rows.parquet", query="SELECT 1")
    (claim,) = list(open_input(sql_url, query="SELECT * FROM no_such_table").claims())
    with pytest.raises(StorageError, match=r"batch\[sql:.*cannot read the columns of sql:SELECT"):
        claim.sources[0].columns()


def test_store_urls_need_the_store():
    with pytest.raises(StorageError, match="needs the store's URL"):
        open_input("sql:SELECT 1")
    with pytest.raises(StorageError, match="needs the store's URL"):
        open_output("sql:predictions")
