"""glibc's memory allocator set up for streaming video.

A video's frames come and go in buffers of a megabyte or more (1.4 MB per 720p yuv420p
picture, several per frame in flight). By default glibc returns such buffers to the kernel
when they are freed and maps fresh pages for the next one, so every frame pays for hundreds
of page faults: about 1,300 per 720p overlay picture, 4 ms of CPU on a virtual machine. Keeping
freed memory for reuse removes them; the peak stays what the bounded queues allow.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h
MMAP_THRESHOLD = 32 << 20  # blocks from the heap up to this size (a 4K RGB frame is 25 MB)
TRIM_THRESHOLD = 128 << 20  # free memory kept at the top of a heap before giving it back


def keep_freed_memory() -> bool:
    """Tell glibc to reuse freed frame-sized blocks; False where there is no glibc (macOS,
    Windows, musl), which have allocators of their own and need nothing."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
