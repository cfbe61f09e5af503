"""Read meta.yaml files the way MLflow writes them.

MLflow dumps every meta.yaml with PyYAML's safe dumper in block style,
keys sorted and unicode kept. A file that does not come back unchanged
from a parse and a re-dump with those settings was not written by
MLflow: that is how a hand edit shows. Flat files in MLflow's form, the
usual case, are read by `janitor.store.fastmeta` without PyYAML.
"""

from __future__ import annotations

from typing import Any

import yaml

from janitor.store.fastmeta import parse_canonical
from janitor.store.model import Fields, Meta, MetaProblem

try:
    from yaml import CSafeDumper as FastDumper
    from yaml import CSafeLoader as FastLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeDumper as FastDumper  # type: ignore[assignment]
    from yaml import SafeLoader as FastLoader  # type: ignore[assignment]


def dump_canonical(data: dict[str, Any], dumper: Any = FastDumper) -> str:
    """The text MLflow would write for this mapping."""
    return yaml.dump(
        data,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=True,
        Dumper=dumper,
    )


MAX_META_BYTES = 1_000_000


def parse_meta(folder: str, raw: bytes) -> Meta:
    """Turn the bytes of a folder's meta.yaml into a Meta, never
    raising."""
    if not raw.strip():
        return Meta(folder, problem=MetaProblem.EMPTY)
    if len(raw) > MAX_META_BYTES:
        return Meta(
            folder,
            problem=MetaProblem.UNPARSEABLE,
            detail=f"{len(raw)} bytes, far more than any meta.yaml MLflow "
            "writes",
        )
    # A checkout with git's autocrlf turns MLflow's line ends into CRLF;
    # MLflow reads those files alike, so they count as its own form.
    raw = raw.replace(b"\r\n", b"\n")
    flat = parse_canonical(raw)
    if flat is not None:
        return Meta(folder, data=Fields(flat))
    try:
        text = raw.decode("utf-8")
        data = yaml.load(text, Loader=FastLoader)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())
        return Meta(folder, problem=MetaProblem.UNPARSEABLE, detail=detail)
    if not isinstance(data, dict):
        kind = type(data).__name__
        return Meta(
            folder,
            problem=MetaProblem.NOT_A_MAPPING,
            detail=f"the document is a {kind}, not a mapping",
        )
    return Meta(folder, data=data, canonical=is_canonical(text, data))


def is_canonical(text: str, data: dict[str, Any]) -> bool:
    if dump_canonical(data) == text:
        return True
    # libyaml and the pure-Python emitter agree on MLflow's simple
    # mappings; compare with the other one before calling it a hand edit.
    return dump_canonical(data, yaml.SafeDumper) == text


def missing_meta(folder: str) -> Meta:
    return Meta(folder, problem=MetaProblem.MISSING)


def unreadable_meta(folder: str, error: OSError) -> Meta:
    return Meta(
        folder,
        problem=MetaProblem.UNREADABLE,
        detail=error.strerror or str(error),
    )
