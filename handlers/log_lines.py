"""The keys of the JSON lines the handlers log, named once: the handlers write them, and the
tools that read the lines (make logs, make watch, the pipeline page, the fault drill) import
them from here. tests/unit/test_log_lines.py checks that no reader spells one out and that
the lines hold exactly these keys."""
from __future__ import annotations

# audit: one line per stream record.
AUDIT = "audit"  # the event: INSERT, MODIFY or REMOVE
KEYS = "keys"  # the item's key attributes, as plain values
SEQUENCE = "sequence"  # the record's stream sequence number
CHANGES = "changes"  # attribute -> {OLD: value, NEW: value}, for each attribute that changed
OLD, NEW = "old", "new"
ERROR = "error"  # instead of CHANGES when the images cannot be decoded (and in a failed batch's summary)
AUDIT_LINE = (AUDIT, KEYS, SEQUENCE, CHANGES)

# replicate: one line per batch, {REPLICATE: summary}, or {REPLICATE_FAILED: summary} (with
# ERROR) when the batch is to be retried. A consumer's summary starts with RECORDS.
REPLICATE = "replicate"
REPLICATE_FAILED = "replicate_failed"
RECORDS = "records"  # stream records in the batch
WRITES = "writes"  # target writes they folded into
POISON = "poison"  # records that cannot be placed
RETRIES = "retries"  # BatchWriteItem calls retried
REJECTED = "rejected"  # writes the target table refused for good (their records are quarantined)
QUARANTINED = "quarantined"  # records sent to the quarantine queue
REPLICATE_SUMMARY = (RECORDS, WRITES, POISON, RETRIES, REJECTED, QUARANTINED)

# users_api: one line per request, {USERS_API: {METHOD, ROUTE, STATUS, MS}}, or only
# {USERS_API_ERROR: what DynamoDB answered} when the table could not be reached (a 503).
# On MiniStack the line also ends the invocation sooner: it waits up to 50 ms for a silent
# function's first output line (ministack core/lambda_runtime.py, _drain_stderr_bounded).
USERS_API = "users_api"
USERS_API_ERROR = "users_api_error"
METHOD = "method"
ROUTE = "route"  # "/users" or "/users/{email}" - the route, never the address itself
STATUS = "status"  # the HTTP status answered
MS = "ms"  # the handler's time, in milliseconds
USERS_API_LINE = (METHOD, ROUTE, STATUS, MS)
