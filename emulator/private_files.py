"""Owner-only files: the state directory holds secrets (the IAM key pair, the API key,
the operator token, the token-signing key) and every customer's records (the journal).

Files are created 0600 and the directory 0700 whatever the umask, and never exist for
a moment with wider permissions: a file is written under a temporary name opened
0600, then renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def private_dir(path: Path) -> Path:
    """``path``, created 0700 if missing; a directory of ours already there is narrowed
    to 0700 too (older versions made it 0755).

    A directory that is not ours, or that is shared by design (sticky, as ``/tmp``), is
    left as it is: the files in it are still private.
    """
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    info = path.stat()
    shared = info.st_mode & stat.S_ISVTX
    if info.st_uid == os.geteuid() and not shared and stat.S_IMODE(info.st_mode) != DIRECTORY_MODE:
        path.chmod(DIRECTORY_MODE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``, readable by the owner alone."""
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # the umask may have taken bits away, never added any
        with open(fd, "wb", closefd=False) as writer:
            writer.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    finally:
        os.close(fd)


def make_private(fd: int) -> None:
    """Narrow an open file of ours to 0600 (one an older version created wider)."""
    os.fchmod(fd, FILE_MODE)
