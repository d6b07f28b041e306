"""One lock for every pdfium call in the process.

pdfium is not thread-safe: two threads inside it at once crash the process
(the center did, with a segmentation fault, under twelve concurrent kiosks).
The center composes print jobs and the verification site reads PDF scans
from worker threads, so every use of ``pypdfium2`` holds this lock.
"""

from __future__ import annotations

import threading

PDFIUM_LOCK = threading.RLock()
