"""The write-ahead journal: every change moto accepted, kept in the state directory.

moto keeps its tables in memory. ``gateway dev`` records, in ``<state-dir>/dynamodb.journal``,
every DynamoDB request that changes state, after moto applied it and before the client
hears so (:func:`recording`, then :func:`durable`), and replays them in order into a fresh
moto at start-up (:mod:`emulator.cloud.server`). So an acknowledged write is never lost, and a
write moto refused (a failed condition) is never journaled.

* What is journaled: the DynamoDB actions in :data:`JOURNALED_ACTIONS` that moto answered
  2xx, keyed by the region of their SigV4 scope (moto keeps one set of tables per region),
  with the request's ``x-gateway-*`` headers (:mod:`emulator.cloud.moto_fixes` reads them).
  Reads, DynamoDB Streams calls and other services are not.
* Durability: an entry is written with one ``write`` to the file while moto's lock is
  held, so the journal's order is moto's order; then, outside the lock, the request
  waits for an ``fsync`` that began after its entry was written, before its answer
  leaves. Requests that wait together share one ``fsync`` (group commit).
* Format: one entry per line, ``<crc32 of the JSON, 8 hex digits> <JSON>``. A request is
  ``{"region", "action", "body", "marks"}``; a snapshot of items, written by compaction,
  is ``{"region", "table", "items"}``.
* Crash safety: a last line without its end of line (the process killed mid-append) is
  dropped with a warning and cut off the file. Any other line that does not check out
  stops start-up with :class:`JournalCorrupt`, naming the file and the line.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import logging
import os
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.chaos.gate import region_of
from emulator.private_files import make_private, private_dir

logger = logging.getLogger("gateway.journal")

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

FILE_NAME = "dynamodb.journal"
DYNAMODB_TARGET = "DynamoDB_20120810."
# Everything in DynamoDB's API that can change a table or an item. PartiQL statements
# may write, so they are journaled even when they only read (replaying a read is harmless).
DATA_ACTIONS = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)
TABLE_ACTIONS = frozenset(
    {
        "CreateTable",
        "UpdateTable",
        "DeleteTable",
        "UpdateTimeToLive",
        "TagResource",
        "UntagResource",
    }
)
JOURNALED_ACTIONS = DATA_ACTIONS | TABLE_ACTIONS
MARK_PREFIX = "x-gateway-"
_MARK_ENVIRON = "HTTP_" + MARK_PREFIX.upper().replace("-", "_")
_TICKET = "gateway.journal.ticket"
# Set in a request's environ by whoever answered it without changing anything (a
# transaction repeated under its ClientRequestToken, :mod:`emulator.cloud.moto_fixes`): it is
# not journaled, so every entry is a change, and a replay applies each one once.
UNCHANGED = "gateway.journal.unchanged"
_FAILED_BODY = b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError",'
# A request can be replayed with any key: moto answers for its default account,
# as it does for the emulator's local keys.
_REPLAY_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=journal/20000101/{region}/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


class JournalCorrupt(Exception):
    """A journal line that is not the last one does not check out."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(
            f"{path}, line {line}: {reason}. The journal cannot be replayed past it; "
            "move the file away to keep it, or start with --fresh to begin empty."
        )
        self.path = path
        self.line = line


class JournalInUse(Exception):
    """Another process holds the journal: two emulators would interleave their writes."""


@dataclass(frozen=True)
class Request:
    """One DynamoDB request that moto applied, as the client sent it."""

    region: str
    action: str
    body: dict[str, Any]
    marks: dict[str, str] = field(default_factory=dict)

    @property
    def changes_items(self) -> bool:
        return self.action in DATA_ACTIONS


@dataclass(frozen=True)
class Items:
    """Some of one table's items, as compaction found them."""

    region: str
    table: str
    items: list[dict[str, Any]]


Entry = Request | Items


class Journal:
    """The journal file: appended to by the running emulator, read at start-up.

    Parameters
    ----------
    path
        The file; created on first use.
    fresh
        Empty the file when it is opened: start with no tables.
    sync
        ``fsync`` before a request is answered (the default). Tests that only care about
        the order of entries turn it off.
    """

    def __init__(self, path: Path, fresh: bool = False, sync: bool = True) -> None:
        self.path = path
        self.fresh = fresh
        # The requests that define tables, in order: compaction keeps them as they are.
        self.table_requests: list[Request] = []
        self._sync_enabled = sync
        self._fd: int | None = None
        self._written = 0
        self._synced = 0
        self._sync_lock = threading.Lock()
        self.failed: OSError | None = None

    @classmethod
    def in_state_dir(cls, state_dir: Path, fresh: bool = False) -> Journal:
        return cls(state_dir / FILE_NAME, fresh)

    def open(self) -> list[Entry]:
        """Lock the file, read every entry, cut off a torn last line; then append.

        Raises
        ------
        JournalCorrupt
            A line before the last one does not check out.
        JournalInUse
            Another ``gateway dev`` holds this journal.
        """
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            make_private(fd)  # every customer's records: the owner's alone, even if older
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise JournalInUse(
                    f"{self.path} is in use by another gateway dev; stop it, or give this "
                    "one its own --state-dir"
                ) from None
            raise
        try:
            if self.fresh:
                os.ftruncate(fd, 0)
            with open(fd, "rb", closefd=False) as reader:
                entries, good_length = read_entries(reader.read(), self.path)
            if good_length < os.fstat(fd).st_size:
                os.ftruncate(fd, good_length)
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.table_requests = _table_requests(entries)
        return entries

    def append(self, entry: Entry) -> int:
        """Write ``entry`` to the file (not yet synced); the ticket :meth:`sync` takes."""
        if self._fd is None:
            raise RuntimeError("the journal is not open")
        _write_all(self._fd, encode(entry))
        self._written += 1
        if isinstance(entry, Request) and not entry.changes_items:
            self.table_requests.append(entry)
        return self._written

    def sync(self, ticket: int) -> None:
        """Return once the entry with ``ticket`` is on disk; one fsync serves every
        request that waits for it at the same time."""
        if self._synced >= ticket or not self._sync_enabled:
            return
        with self._sync_lock:
            if self._synced >= ticket or self._fd is None:
                return
            written = self._written  # everything written before the fsync starts
            os.fsync(self._fd)
            self._synced = max(self._synced, written)

    def rewrite(self, entries: list[Entry]) -> None:
        """Replace the whole journal with ``entries``, atomically (compaction).

        The caller holds moto's lock, so nothing is appended meanwhile.
        """
        temporary = self.path.with_name(self.path.name + ".compacting")
        fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        try:
            make_private(fd)
            with open(fd, "wb", closefd=False, buffering=1 << 20) as writer:
                for entry in entries:
                    writer.write(encode(entry))
            os.fsync(fd)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.replace(temporary, self.path)
            _fsync_directory(self.path.parent)
        except BaseException:
            os.close(fd)
            temporary.unlink(missing_ok=True)
            raise
        with self._sync_lock:
            if self._fd is not None:
                os.close(self._fd)
            self._fd = fd
            self._synced = self._written
        self.table_requests = _table_requests(entries)

    def size(self) -> int:
        return os.fstat(self._fd).st_size if self._fd is not None else 0

    def close(self) -> None:
        with self._sync_lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def read_entries(data: bytes, path: Path) -> tuple[list[Entry], int]:
    """The entries in ``data``, and the length of its good part (without a torn last line).

    Raises
    ------
    JournalCorrupt
        A line that is not the last one does not check out.
    """
    entries: list[Entry] = []
    offset = 0
    lines = data.split(b"\n")
    last = len(lines) - 1  # the part after the final newline: b"" when the file is whole
    for number, line in enumerate(lines[:last]):
        try:
            entries.append(decode(line))
        except ValueError as error:
            raise JournalCorrupt(path, number + 1, str(error)) from None
        offset += len(line) + 1
    if lines[last]:
        # A line is written with one write(2), newline last: one without its newline is
        # the one being written when the process died, so it was never acknowledged.
        logger.warning(
            "%s, line %d: dropped a torn last entry (%d bytes, no end of line); the "
            "emulator stopped while writing it, so it was never acknowledged",
            path,
            last + 1,
            len(lines[last]),
        )
    return entries, offset


def encode(entry: Entry) -> bytes:
    if isinstance(entry, Request):
        body: dict[str, Any] = {"region": entry.region, "action": entry.action, "body": entry.body}
        if entry.marks:
            body["marks"] = entry.marks
    else:
        body = {"region": entry.region, "table": entry.table, "items": entry.items}
    text = json.dumps(body, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(text), text)


def decode(line: bytes) -> Entry:
    """One line as an entry.

    Raises
    ------
    ValueError
        The line is cut short, altered, or not an entry.
    """
    checksum, _, text = line.partition(b" ")
    try:
        expected = int(checksum, 16)
    except ValueError:
        raise ValueError("no checksum at the start of the line") from None
    if len(checksum) != 8 or zlib.crc32(text) != expected:
        raise ValueError("the checksum does not match the entry")
    body = json.loads(text)
    if not isinstance(body, dict):
        raise ValueError("the entry is not a JSON object")
    try:
        if "action" in body:
            return Request(
                str(body["region"]), str(body["action"]), dict(body["body"]), body.get("marks", {})
            )
        return Items(str(body["region"]), str(body["table"]), list(body["items"]))
    except (KeyError, TypeError) as error:
        raise ValueError(f"the entry lacks {error}") from None


def recording(app: Wsgi, journal: Journal) -> Wsgi:
    """``app``, journaling each state-changing request it answers 2xx.

    Runs inside moto's lock (:func:`emulator.cloud.moto_fixes.serialized`), so entries are in
    the order moto applied them; :func:`durable`, outside the lock, waits for the fsync.
    """

    def record(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        action = _action(environ)
        region = region_of(environ.get("HTTP_AUTHORIZATION"))
        if action not in JOURNALED_ACTIONS or region is None:
            return app(environ, start_response)
        if journal.failed is not None:
            return _refuse(start_response, journal.failed)
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        started: list[tuple[str, Any]] = []

        def remember(status: str, headers: Any, exc_info: Any = None) -> None:
            started[:] = [(status, headers)]  # passed on once the outcome is known

        answer = list(app(environ, remember))
        status, headers = started[-1]
        if status.startswith("2") and not environ.get(UNCHANGED):
            entry = Request(region, action, json.loads(body), _marks(environ))
            try:
                environ[_TICKET] = journal.append(entry)
            except OSError as error:
                # Applied in memory, but not durable: the client is told it failed, and
                # no later write is taken, so nothing acknowledged is ever lost.
                logger.critical("%s cannot be written (%s); refusing writes", journal.path, error)
                journal.failed = error
                return _refuse(start_response, error)
        start_response(status, headers)
        return answer

    return record


def durable(app: Wsgi, journal: Journal) -> Wsgi:
    """``app``, answering a journaled request only once its entry is on disk."""

    def wait(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answer = app(environ, start_response)
        ticket = environ.get(_TICKET)
        if ticket is not None:
            try:
                journal.sync(ticket)
            except OSError as error:
                logger.critical("%s cannot be synced (%s); refusing writes", journal.path, error)
                journal.failed = error
                raise
        return answer

    return wait


def replay_environ(request: Request) -> dict[str, Any]:
    """A WSGI environ that asks moto for ``request`` again, as its client did.

    Without its ClientRequestToken: the journal holds only requests that changed
    something, so each is applied again, even one whose token an earlier entry used
    more than 10 minutes before it (a new request then, but not in a replay's minutes).
    """
    sent = {name: value for name, value in request.body.items() if name != "ClientRequestToken"}
    body = json.dumps(sent).encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_X_AMZ_TARGET": DYNAMODB_TARGET + request.action,
        "HTTP_AUTHORIZATION": _REPLAY_AUTHORIZATION.format(region=request.region),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request.marks.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def _table_requests(entries: Iterable[Entry]) -> list[Request]:
    return [e for e in entries if isinstance(e, Request) and not e.changes_items]


def _action(environ: dict[str, Any]) -> str | None:
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    return target.removeprefix(DYNAMODB_TARGET) if target.startswith(DYNAMODB_TARGET) else None


def _marks(environ: dict[str, Any]) -> dict[str, str]:
    return {
        key[len("HTTP_") :].lower().replace("_", "-"): str(value)
        for key, value in environ.items()
        if key.startswith(_MARK_ENVIRON)
    }


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    return bytes(stream.read(length) if length > 0 else stream.read())


def _refuse(start_response: Callable[..., Any], error: OSError) -> list[bytes]:
    message = json.dumps(f"the emulator's journal cannot be written ({error})")
    body = _FAILED_BODY + b'"message":' + message.encode() + b"}"
    start_response(
        "500 Internal Server Error",
        [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
