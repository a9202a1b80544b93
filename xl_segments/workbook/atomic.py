"""Write an output file atomically: a temporary file beside it, fsync, then one rename."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from xl_segments.errors import OutputLockedError, WorkbookError


def temp_path_for(target: Path) -> Path:
    # Same folder as the target, so os.replace is a rename within one file system.
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[BinaryIO]:
    """Yield a file to write; on success it replaces `target`, on any error it vanishes.

    A previous `target` stays intact until the final rename. A target held open by another
    program (Excel on Windows) raises OutputLockedError.
    """
    target = Path(target)
    if target.is_dir():
        raise WorkbookError(f"Cannot write {target}: it is a folder.")
    folder = target.parent
    if not folder.is_dir():
        raise WorkbookError(f"Cannot write {target}: the folder {folder} does not exist.")
    tmp = temp_path_for(target)
    try:
        # os.open with 0o666 lets the umask decide the final permissions, as for any new file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise WorkbookError(f"Cannot write to the folder {folder}: {exc.strerror}.") from None
    try:
        with os.fdopen(fd, "w+b") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, target.stat().st_mode & 0o7777)
        try:
            os.replace(tmp, target)
        except PermissionError:
            raise OutputLockedError(
                f"Cannot replace {target}: it is open in another program (probably Excel). "
                "Close the file and try again."
            ) from None
        except OSError as exc:
            raise WorkbookError(f"Cannot write {target}: {exc.strerror}.") from None
        _fsync_folder(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open folders this way.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
