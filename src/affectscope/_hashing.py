"""SHA-256 of files, remembered per file, size and modification time so each file is read once."""

from __future__ import annotations

import hashlib
import os
import stat

from affectscope._files import MAX_READ_BYTES


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20, *, limit: int = MAX_READ_BYTES,
                _stat: os.stat_result | None = None) -> str:
    """SHA-256 hex digest of a regular file (at most ``limit`` bytes are read; anything that is
    not a regular file raises ``OSError`` before it is opened, so a FIFO or a device cannot hang).
    Reads go into one buffer the file's size (at least 64 KiB, at most ``chunk``): a read of
    ``chunk`` bytes would allocate, and map, a megabyte per small file."""
    st = _stat or os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"not a regular file: {path}")
    h = hashlib.sha256()
    left = limit
    view = memoryview(bytearray(min(chunk, max(st.st_size + 1, 1 << 16))))
    with open(path, "rb", buffering=0) as f:
        while left > 0 and (n := f.readinto(view[:min(len(view), left)])):
            h.update(view[:n])
            left -= n
    return h.hexdigest()


#: Digests by (device, inode, size, mtime): every link and spelling of a path is one entry, found
#: by one ``stat`` without resolving the path. Oldest entries go first past 65,536.
_DIGESTS: dict[tuple[int, int, int, int], str] = {}
_MAX_DIGESTS = 65536


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file, remembered per file, size and mtime (a replaced or edited file
    is read again; an unchanged one is not). About 1 GB/s."""
    st = os.stat(path)
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    digest = _DIGESTS.get(key)
    if digest is None:
        digest = sha256_file(path, _stat=st)
        if len(_DIGESTS) >= _MAX_DIGESTS:
            _DIGESTS.pop(next(iter(_DIGESTS)), None)
        _DIGESTS[key] = digest
    return digest
