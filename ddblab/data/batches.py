"""BatchWriteItem for the scripts: any number of put/delete requests, 25 per call,
UnprocessedItems retried with backoff, optionally on several threads with a progress bar.
(The replicate handler has its own loop: it is zipped alone, and it sorts permanent
refusals from transient failures.)"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from ddblab.core.aws import error_message
from ddblab.core.output import plural
from ddblab.core.settings import UserError
from ddblab.stack.code import handler_module

projection = handler_module("projection")  # refused_for_good: the rule replicate follows

LIMIT = 25  # BatchWriteItem's most requests per call
GET_LIMIT = 100  # BatchGetItem's most keys per call


def puts(items: list) -> list:
    return [{"PutRequest": {"Item": item}} for item in items]


def deletes(keys: list) -> list:
    return [{"DeleteRequest": {"Key": key}} for key in keys]


def retry_delay(attempt: int) -> float:
    """Seconds to wait before retry number `attempt` of unprocessed items: 0.1 s doubling, at most 1 s."""
    return min(1.0, 0.05 * 2 ** attempt)


def write_chunk(client, table: str, chunk: list, attempts: int = 10) -> None:
    """One BatchWriteItem call's worth, UnprocessedItems retried until none is left."""
    pending = chunk
    for attempt in range(attempts):
        if attempt:
            time.sleep(retry_delay(attempt))
        pending = client.batch_write_item(RequestItems={table: pending}).get("UnprocessedItems", {}).get(table, [])
        if not pending:
            return
    raise UserError(f"{plural(len(pending), 'write')} to {table} left unprocessed after {attempts} tries")


def write_sorting_refusals(write, chunk: list, refused: list, lock: threading.Lock) -> None:
    """Write a chunk; if the table refuses it for good, write its requests one at a time and
    add each one it refuses to `refused` as (request, reason). Re-writing the others is harmless."""
    try:
        return write(chunk)
    except ClientError as error:
        if not projection.refused_for_good(error):
            raise
    for request in chunk:
        try:
            write([request])
        except ClientError as error:
            if not projection.refused_for_good(error):
                raise
            with lock:
                refused.append((request, error_message(error) or "refused"))


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
        write_chunk(client, table, chunk, attempts)
        if progress:
            progress.advance(task, len(chunk))

    def write_one(chunk):
        return write(chunk) if refused is None else write_sorting_refusals(write, chunk, refused, lock)

    if workers > 1:
        pool = ThreadPoolExecutor(workers)
        try:
            list(pool.map(write_one, chunks))
        finally:  # on Ctrl-C or an error, leave the queued chunks unwritten rather than wait
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        for chunk in chunks:
            write_one(chunk)
    return len(requests) - len(refused or ())


def get_all(client, table: str, keys: list, attempts: int = 10) -> list:
    """The items at these keys that exist (BatchGetItem, 100 keys a call, UnprocessedKeys
    retried with backoff). Keys must be distinct."""
    found = []
    for start in range(0, len(keys), GET_LIMIT):
        pending = keys[start:start + GET_LIMIT]
        for attempt in range(attempts):
            if attempt:
                time.sleep(retry_delay(attempt))
            answer = client.batch_get_item(RequestItems={table: {"Keys": pending}})
            found += answer.get("Responses", {}).get(table, [])
            pending = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not pending:
                break
        else:
            raise UserError(f"{plural(len(pending), 'read')} from {table} left unprocessed after {attempts} tries")
    return found
