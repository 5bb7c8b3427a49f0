"""BatchWriteItem for the scripts: any number of put/delete requests, 25 per call,
UnprocessedItems retried with backoff, optionally on several threads with a progress bar.
(The replicate handler has its own loop: it is zipped alone, and it sorts permanent
refusals from transient failures.)"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ddblab.core.settings import UserError

LIMIT = 25


def puts(items: list) -> list:
    return [{"PutRequest": {"Item": item}} for item in items]


def deletes(keys: list) -> list:
    return [{"DeleteRequest": {"Key": key}} for key in keys]


def write_all(client, table: str, requests: list, workers: int = 1, progress=None, label: str = "writing",
              attempts: int = 10) -> int:
    """Write every request; returns how many. Raises UserError if some never get through."""
    chunks = [requests[i:i + LIMIT] for i in range(0, len(requests), LIMIT)]
    task = progress.add_task(f"{label} {len(requests)} items", total=len(requests)) if progress else None

    def write(chunk):
        pending = chunk
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(1.0, 0.05 * 2 ** attempt))
            pending = client.batch_write_item(RequestItems={table: pending}).get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
        else:
            raise UserError(f"{len(pending)} writes to {table} were still unprocessed after {attempts} tries")
        if progress:
            progress.advance(task, len(chunk))

    if workers > 1:
        pool = ThreadPoolExecutor(workers)
        try:
            list(pool.map(write, chunks))
        finally:  # on Ctrl-C or an error, leave the queued chunks unwritten rather than wait
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        for chunk in chunks:
            write(chunk)
    return len(requests)
