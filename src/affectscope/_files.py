"""What a stimulus path is, without reading it: a regular file, or something that must not be read.

Reading a FIFO blocks until a writer appears, and reading ``/dev/zero`` (or a link to it) never
ends, so everything that hashes or decodes a stimulus asks :func:`file_problem` first: only
regular files (after following links) are ever opened.
"""

from __future__ import annotations

import errno
import os
import stat
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
