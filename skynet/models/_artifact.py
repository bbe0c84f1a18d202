"""The model artifact format: plain state in one ``.npz`` file, never a pickle.

Loading a pickle (joblib's format) runs whatever code the file names, and whoever can write the
model store can rewrite the manifest's sha256 too. skynet's models are arrays and small
parameter sets, so an artifact holds exactly that and nothing executable:

``model.npz`` is a NumPy zip archive, read with ``allow_pickle=False`` (an object array is
refused). Its entry ``__state__`` is UTF-8 JSON::

    {"format": "skynet-state", "version": 1, "model_type": "user_model",
     "params": TREE, "state": TREE}

and every other entry is an array the tree refers to. A TREE is JSON ``null``, ``true``/
``false``, integers, finite floats (Python writes them exactly: ``repr`` round-trips), strings
and lists, plus tagged objects, a JSON object with one ``$`` key:

- ``{"$float": "nan" | "inf" | "-inf"}``: a non-finite float (strict JSON has none);
- ``{"$array": "a3"}``: the archive's array ``a3`` (a NumPy scalar is stored as a 0-d array and
  comes back as the scalar of its dtype; one array referred to twice comes back as one array);
- ``{"$tuple": [TREE, ...]}``: a tuple;
- ``{"$dict": [[KEY, TREE], ...]}``: a dict (keys: str, int, float, bool, None or tuples);
- ``{"$object": "FlatForest", "fields": {"name": TREE, ...}}``: a dataclass the *model class*
  allows (:attr:`skynet.models.Model.state_classes`), built with exactly its fields. The name is
  looked up in that explicit allow-list, never imported: a file cannot name a class to build.

Why not ``skops``: its secure format reads and writes scikit-learn objects, but skynet no longer
stores any (the user model predicts with its own :class:`FlatForest`, the estimation model is
numpy), and skynet's own dataclasses would still have to be listed as trusted types, by their
import strings, in a format whose object-building machinery is more to audit than this module.
The hand-made format is about 150 lines, has no dependency beyond NumPy, and keeps predictions
bit-identical: arrays are stored byte for byte with their dtype and memory order, floats exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from skynet.errors import ModelError

__all__ = ["FORMAT", "VERSION", "STATE_ENTRY", "write_artifact", "read_artifact"]

FORMAT = "skynet-state"
VERSION = 1
#: The archive entry holding the JSON tree.
STATE_ENTRY = "__state__"
_ZIP_MAGIC = b"PK\x03\x04"
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def write_artifact(
    file: Path, model_type: str, params: dict[str, Any], state: dict[str, Any], classes: Iterable[type]
) -> None:
    """Write a model's parameters and learned state to ``file`` (a ``.npz``).

    Raises:
        ModelError: a value is not plain state (e.g. a scikit-learn object, an object array,
            or a class missing from ``classes``): a model that cannot be stored safely.
    """
    encoder = _Encoder({cls.__name__: cls for cls in classes})
    tree = {
        "format": FORMAT,
        "version": VERSION,
        "model_type": model_type,
        "params": encoder.encode(params, "params"),
        "state": encoder.encode(state, "state"),
    }
    text = json.dumps(tree, allow_nan=False, separators=(",", ":"))
    with open(file, "wb") as fh:
        entries: dict[str, Any] = {STATE_ENTRY: np.frombuffer(text.encode(), np.uint8), **encoder.arrays}
        np.savez_compressed(fh, **entries)


def read_artifact(
    file: Path, model_type: str, classes: Iterable[type]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters and learned state in ``file``; nothing in it can run code.

    Raises:
        ModelError: not an archive of this format, another model type, a class not allowed
            for this model, or a malformed tree. The message names the file.
    """
    try:
        with open(file, "rb") as fh:
            if fh.read(4) != _ZIP_MAGIC:  # a pickle, say: never handed to a loader, whatever it is
                raise _Bad("it is not a zip archive (a pickle or another file?), so not a skynet model")
        with np.load(file, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise _Bad("it is not a skynet model archive")
            tree = _read_tree(archive)
            if tree.get("model_type") != model_type:
                raise _Bad(f"it holds a {tree.get('model_type')!r} model, not a {model_type!r}")
            decoder = _Decoder(archive, {cls.__name__: cls for cls in classes})
            params, state = decoder.decode(tree.get("params")), decoder.decode(tree.get("state"))
            unused = set(archive.files) - {STATE_ENTRY} - set(decoder.used)
            if unused:
                raise _Bad(f"it holds arrays the state does not use ({', '.join(sorted(unused)[:5])})")
    except _Bad as exc:
        raise ModelError(f"model artifact {file} is unreadable: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - whatever a bad file makes NumPy, zipfile or json raise
        detail = str(exc)[:200]
        raise ModelError(f"model artifact {file} is unreadable ({type(exc).__name__}: {detail})") from None
    if not isinstance(params, dict) or not isinstance(state, dict):
        raise ModelError(f"model artifact {file} is unreadable: params and state must be dicts")
    return params, state


class _Bad(Exception):
    """A format violation found while reading (turned into one ModelError)."""


def _read_tree(archive: Any) -> dict[str, Any]:
    if STATE_ENTRY not in archive.files:
        raise _Bad(f"it has no {STATE_ENTRY} entry (not a skynet model archive)")
    raw = archive[STATE_ENTRY]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _Bad(f"its {STATE_ENTRY} entry is not UTF-8 bytes")
    tree = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_no_constant)
    if not isinstance(tree, dict) or tree.get("format") != FORMAT:
        raise _Bad(f"its {STATE_ENTRY} is not a {FORMAT} tree")
    if tree.get("version") != VERSION:
        raise _Bad(f"format version {tree.get('version')!r} is not the {VERSION} this skynet reads")
    return tree


def _no_constant(name: str) -> None:
    raise _Bad(f"it holds the non-JSON constant {name}")


class _Encoder:
    def __init__(self, classes: dict[str, type]) -> None:
        self.classes = classes
        self.arrays: dict[str, np.ndarray] = {}
        self._names: dict[int, str] = {}  # id(array) -> its entry, so an alias stays one array

    def encode(self, value: Any, where: str) -> Any:
        if value is None or type(value) in (bool, int, str):
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, np.ndarray | np.generic):
            return {"$array": self._array(value, where)}
        if type(value) is tuple:
            return {"$tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if type(value) is list:
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if type(value) is dict:
            return {
                "$dict": [
                    [self.encode(k, where), self.encode(v, f"{where}[{k!r}]")] for k, v in value.items()
                ]
            }
        name = type(value).__name__
        if self.classes.get(name) is type(value) and dataclasses.is_dataclass(value):
            fields = {
                f.name: self.encode(getattr(value, f.name), f"{where}.{f.name}") for f in _fields(type(value))
            }
            return {"$object": name, "fields": fields}
        raise ModelError(
            f"cannot store {where}: a {type(value).__module__}.{name} is not plain state "
            "(arrays, numbers, strings, lists, dicts or a class on the model's state_classes)"
        )

    def _array(self, value: np.ndarray | np.generic, where: str) -> str:
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise ModelError(f"cannot store {where}: an array of Python objects would need a pickle")
        key = id(value)
        if key not in self._names:
            self._names[key] = f"a{len(self.arrays)}"
            self.arrays[self._names[key]] = array
        return self._names[key]


class _Decoder:
    def __init__(self, archive: Any, classes: dict[str, type]) -> None:
        self.archive = archive
        self.classes = classes
        self.used: dict[str, np.ndarray] = {}

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) != (2 if "$object" in node else 1):
            raise _Bad(f"unexpected node {str(node)[:80]}")
        tag, body = next(iter(node.items()))
        if tag == "$float" and body in _NON_FINITE:
            return _NON_FINITE[body]
        if tag == "$array" and isinstance(body, str):
            return self._array(body)
        if tag == "$tuple" and isinstance(body, list):
            return tuple(self.decode(v) for v in body)
        if (
            tag == "$dict"
            and isinstance(body, list)
            and all(isinstance(p, list) and len(p) == 2 for p in body)
        ):
            return {self.decode(k): self.decode(v) for k, v in body}
        if "$object" in node and isinstance(node.get("fields"), dict):
            return self._object(node["$object"], node["fields"])
        raise _Bad(f"unexpected node {str(node)[:80]}")

    def _array(self, name: str) -> np.ndarray:
        if name == STATE_ENTRY or name not in self.archive.files:
            raise _Bad(f"it refers to a missing array {name[:40]!r}")
        if name not in self.used:
            self.used[name] = self.archive[name]
        array = self.used[name]
        return array[()] if array.ndim == 0 else array

    def _object(self, name: Any, fields: dict[str, Any]) -> Any:
        cls = self.classes.get(name) if isinstance(name, str) else None
        if cls is None:
            allowed = ", ".join(sorted(self.classes)) or "none"
            raise _Bad(
                f"it asks for a {str(name)[:40]!r}, which this model does not allow (allowed: {allowed})"
            )
        expected = {f.name for f in _fields(cls)}
        if set(fields) != expected:
            raise _Bad(f"its {name} has the fields {sorted(fields)[:12]}, not {sorted(expected)}")
        return cls(**{key: self.decode(value) for key, value in fields.items()})


def _fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if f.init]
