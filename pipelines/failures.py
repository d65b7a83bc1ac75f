"""What failed, in one line: the root cause of an unexpected exception, in plain words where it is a known one.

A Spark failure reaches Python as `Py4JJavaError: An error occurred while calling o123.save`, which says
nothing; what failed is at the end of the Java exception's cause chain (an `IOException: No space left on
device` under a task failure under a job abort). `failure_causes` walks Python's `__cause__` chain and,
where an exception carries a Java throwable, the Java `getCause()` chain; `describe_failure` (pure, on
those (class name, message) pairs) names the root cause and, for the failures people meet, what to do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_MAX_DEPTH = 32  # cause chains are short; this only guards against a cycle

_NO_FILE_SYSTEM = re.compile(r"No FileSystem for scheme[:\s]*\"?([A-Za-z][\w+.-]*)\"?")
_NO_SPACE = re.compile(r"(?i)no space left on device|\bENOSPC\b|os error 28\b|\[Errno 28\]")
_PERMISSION = re.compile(
    r"(?i)permission[ _]denied|access[ _]denied|\bEACCES\b|os error 13\b|\[Errno 13\]|operation not permitted"
    r"|AccessDeniedException|AccessControlException|PermissionError"
)
# (what the root cause says, the line shown with the path it is about, the line shown without one)
_KNOWN = (
    (_NO_SPACE, "no space left on device at {path}: free space there or move the warehouse", "no space left on device"),
    (
        _PERMISSION,
        "permission denied on {path}: the user running billing-lakehouse needs access to it",
        "permission denied: {detail}",  # a catalog's refusal names the object and the privilege instead
    ),
)
# A path or URI in a message: `/x/y`, `file:/x`, `s3a://bucket/key`; stops at quotes, spaces, brackets and commas.
_PATH = re.compile(r"(?:\b[A-Za-z][\w+.-]*:/{1,3}|(?<![\w.:/])/)[^\s'\"(),;<>\[\]]+")


@dataclass(frozen=True)
class Cause:
    """One exception of a chain: its class name (Java's fully qualified) and its message."""

    name: str
    message: str

    @property
    def text(self) -> str:
        return f"{self.name}: {self.message}" if self.message else self.name


def failure_causes(error: BaseException) -> list[Cause]:
    """The exception and everything it was caused by, outermost first, Java causes included.

    A Python exception wrapping a Java one (py4j's `Py4JJavaError.java_exception`, PySpark's captured
    exceptions' `_origin`) is replaced by the Java chain: its own message is py4j's call site.
    """
    causes: list[Cause] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(causes) < _MAX_DEPTH:
        seen.add(id(current))
        java = getattr(current, "java_exception", None) or getattr(current, "_origin", None)
        if java is not None:
            causes.extend(_java_causes(java))
        else:
            causes.append(Cause(type(current).__name__, str(current).strip()))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return causes


def _java_causes(throwable: Any) -> list[Cause]:
    causes: list[Cause] = []
    try:
        while throwable is not None and len(causes) < _MAX_DEPTH:
            message = throwable.getMessage()
            causes.append(Cause(str(throwable.getClass().getName()), "" if message is None else str(message).strip()))
            cause = throwable.getCause()
            throwable = None if cause is None or cause.equals(throwable) else cause
    except Exception:  # the JVM is gone (it crashed, or ran out of memory): keep what was read
        pass
    return causes


def describe_failure(causes: Sequence[Cause]) -> str:
    """One line: the known failure in plain words with what to do, else the root cause's class and message."""
    if not causes:
        return "unknown error"
    for cause in causes:
        scheme = _NO_FILE_SYSTEM.search(cause.message)
        if scheme:
            return _no_file_system(scheme.group(1), _path(causes, cause))
    for pattern, at_path, without_path in _KNOWN:
        matched = next((cause for cause in reversed(causes) if pattern.search(cause.text)), None)
        if matched is not None:
            path = _path(causes, matched)
            return at_path.format(path=path) if path else without_path.format(detail=_one_line(matched))
    return _one_line(next((cause for cause in reversed(causes) if cause.message), causes[-1]))


def _one_line(cause: Cause) -> str:
    """`SimpleClassName: first line of the message`."""
    name = cause.name.rsplit(".", 1)[-1]
    first_line = (cause.message.splitlines() or [""])[0]
    return f"{name}: {first_line}" if first_line else name


def _no_file_system(scheme: str, path: str | None) -> str:
    where = f" ({path})" if path else ""
    if scheme.lower() in ("s3", "s3n"):
        return (
            f"no file system for scheme {scheme}: this Spark cannot read {scheme}:// paths{where}; use"
            " storage: delta-spark on a cluster with S3 access (Databricks), or add the hadoop-aws (s3a) connector"
            " and set spark_conf: {spark.hadoop.fs.s3.impl: org.apache.hadoop.fs.s3a.S3AFileSystem}"
        )
    return (
        f"no file system for scheme {scheme}: this Spark cannot read {scheme}:// paths{where}; run on a cluster"
        f" that has the {scheme} connector, or add it to Spark's classpath and set spark.hadoop.fs.{scheme}.impl"
    )


def _path(causes: Sequence[Cause], matched: Cause) -> str | None:
    """The path the failure is about: from the matching message, else the nearest message that names one."""
    ordered = [matched, *reversed(causes)]
    for cause in ordered:
        found = _PATH.search(cause.message)
        if found:
            return found.group(0).rstrip(".:")
    return None


def root_cause(error: BaseException) -> str:
    """The one line to print for an unexpected exception (not yet redacted)."""
    return describe_failure(failure_causes(error))
