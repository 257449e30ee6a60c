"""Files: what a stimulus path is without reading it, and writing a file all at once.

Reading a FIFO blocks until a writer appears, and reading ``/dev/zero`` (or a link to it) never
ends, so everything that hashes or decodes a stimulus asks :func:`file_problem` first: only
regular files (after following links) are ever opened.

Everything affectscope writes (tables, heads, pages, norms) goes through :func:`atomic_write`: a
temporary file beside the target, renamed into place when complete.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

#: Reads of one stimulus file stop here even if the file keeps growing while it is read.
MAX_READ_BYTES = 8 << 30


def file_problem(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """``None`` for a regular file (links followed); else ``(problem, fix)``, found by ``stat``
    alone (nothing is opened)."""
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop (the link points back to itself)", "replace the link by the file it should point to, or remove it"
        if exc.errno == errno.ENOENT:
            if os.path.islink(p):
                target = os.readlink(p)
                return f"a broken symbolic link (its target {target!r} does not exist)", "restore the target file, or remove the link"
            return "file not found", "check the path, or remove the item from the list"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"cannot access the file ({exc.strerror})", "check permissions"
        if exc.errno == errno.ENAMETOOLONG:
            return "the path is too long for the file system", "move or rename the file"
        return f"cannot access the file ({exc.strerror})", "check that the path is readable"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a picture or video file", "give the files inside it (folders given as inputs are searched)"
    what = (
        "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
        else "a character device" if stat.S_ISCHR(mode)
        else "a block device" if stat.S_ISBLK(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    via = f" (through a link to {os.path.realpath(p)})" if os.path.islink(p) else ""
    return f"{what}{via}, not a regular file: it is never read, since reading it can block or never end", \
        "rate regular image or video files; copy the data into a file first"


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], object], *, suffix: str = ".tmp") -> Path:
    """Write ``path`` all at once: ``write(tmp)`` fills a temporary file beside it, which is then
    renamed into place, so a reader (or a run killed midway) never sees half a file. An exception
    in ``write`` leaves ``path`` as it was and removes the temporary file. The file gets the
    permissions a plain ``open()`` would give it (0666 less the umask), not ``mkstemp``'s private
    0600. ``suffix``: the temporary file's ending, for writers that add their own (``.npz``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """:func:`atomic_write` of a UTF-8 text."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
