"""BatchWriteItem for the scripts: any number of put/delete requests, 25 per call,
UnprocessedItems retried with backoff, optionally on several threads with a progress bar.
(The replicate handler has its own loop: it is zipped alone, and it sorts permanent
refusals from transient failures.)"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from ddblab.core.settings import UserError
from ddblab.stack.code import handler_module

projection = handler_module("projection")  # refused_for_good: the rule replicate follows

LIMIT = 25  # BatchWriteItem's most requests per call
GET_LIMIT = 100  # BatchGetItem's most keys per call


def puts(items: list) -> list:
    return [{"PutRequest": {"Item": item}} for item in items]


def deletes(keys: list) -> list:
    return [{"DeleteRequest": {"Key": key}} for key in keys]


def write_all(client, table: str, requests: list, workers: int = 1, progress=None, label: str = "writing",
              attempts: int = 10, refused: list | None = None) -> int:
    """Write every request; returns how many were written. Raises UserError if some never
    get through. With a `refused` list, a chunk the table refuses for good is written one
    request at a time, and each request it refuses is added to the list as (request, reason)
    instead of stopping everything: the rest is written."""
    chunks = [requests[i:i + LIMIT] for i in range(0, len(requests), LIMIT)]
    task = progress.add_task(f"{label} {len(requests)} items", total=len(requests)) if progress else None
    lock = threading.Lock()

    def write(chunk):
        if refused is None:
            return write_chunk(chunk)
        try:
            return write_chunk(chunk)
        except ClientError as error:
            if not projection.refused_for_good(error):
                raise
        for request in chunk:  # find which of them the table refuses; re-writing the others is harmless
            try:
                write_chunk([request])
            except ClientError as error:
                if not projection.refused_for_good(error):
                    raise
                with lock:
                    refused.append((request, error.response["Error"].get("Message", "refused")))

    def write_chunk(chunk):
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
    return len(requests) - len(refused or ())


def get_all(client, table: str, keys: list, attempts: int = 10) -> list:
    """The items at these keys that exist (BatchGetItem, 100 keys a call, UnprocessedKeys
    retried with backoff). Keys must be distinct."""
    found = []
    for start in range(0, len(keys), GET_LIMIT):
        pending = keys[start:start + GET_LIMIT]
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(1.0, 0.05 * 2 ** attempt))
            answer = client.batch_get_item(RequestItems={table: {"Keys": pending}})
            found += answer.get("Responses", {}).get(table, [])
            pending = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not pending:
                break
        else:
            raise UserError(f"{len(pending)} reads from {table} were still unprocessed after {attempts} tries")
    return found
