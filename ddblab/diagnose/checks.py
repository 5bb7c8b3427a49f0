"""Every link of the chain, checked against the stack description: one Check per link, with
what is wrong and the command that fixes it.

users --stream--> mapping --> function (role, code, log) --> users_by_location / audit log
                                   `--> quarantine queue;  mapping --OnFailure--> dead-letter queue
"""
from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from urllib.parse import unquote

from botocore.exceptions import ClientError

from ddblab.core.aws import find, mappings_of, processing_result
from ddblab.core.kinds import Backend, QueueKind, Status
from ddblab.core.output import count_of, plural
from ddblab.core.waiting import WaitTimeout, wait_for
from ddblab.data.users import to_item, walkthrough
from ddblab.diagnose import filters
from ddblab.diagnose.diagnosis import BOOTSTRAP, Check, Diagnosis
from ddblab.emulator.health import MINISTACK_HEALTH_PATH, emulator_name, health, not_an_emulator, port_open
from ddblab.inspect import queue_contents
from ddblab.stack.converge.mappings import not_described
from ddblab.stack.model import Mapping, Names

# --- the backend --------------------------------------------------------------------------

def auth_token_needed(image: str) -> bool:
    """Since 2026-03 the LocalStack images after 4.14.0 (calendar versions, `latest`) exit
    without LOCALSTACK_AUTH_TOKEN; 4.14.0 and earlier have no gate."""
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else "latest"
    if "pro" in image.rsplit("/", 1)[-1]:
        return True
    match = re.match(r"(\d+)\.(\d+)", tag)
    if not match:
        return True  # latest, stable, ...
    major, minor = int(match[1]), int(match[2])
    return major >= 2026 or (major == 4 and minor > 14) or 5 <= major < 2026


def backend(d: Diagnosis) -> list:
    settings = d.settings
    document = health(settings.endpoint_url)
    if document is None:
        if settings.is_local and port_open(settings.port):
            return [Check("backend", settings.endpoint_url, Status.FAIL, not_an_emulator(settings).split(" - ")[0],
                          "stop that program, or point AWS_ENDPOINT_URL at your emulator")]
        return [Check("backend", settings.endpoint_url, Status.FAIL, "nothing answers", "make up")]
    d.backend = emulator_name(settings.endpoint_url)
    found = f"version {document.get('version', '?')} on {settings.endpoint_url}"
    if d.backend == Backend.UNKNOWN:
        # Something answers the health path, but neither as MiniStack nor as LocalStack: the
        # checks below still run; the caveats of neither emulator are assumed.
        return [Check("backend", "unknown emulator", Status.WARN,
                      f"{found} (edition {document.get('edition', '?')}): not MiniStack "
                      f"({MINISTACK_HEALTH_PATH} gave no health document) and not positively LocalStack",
                      "if it is slow to answer, run make doctor again; otherwise check what listens there")]
    checks = [Check("backend", d.backend, Status.PASS, found)]
    if d.backend == Backend.LOCALSTACK:
        image = settings.localstack_image
        if auth_token_needed(image) and not os.environ.get("LOCALSTACK_AUTH_TOKEN"):
            checks.append(Check("backend", "auth token", Status.FAIL,
                                f"LOCALSTACK_IMAGE={image} needs LOCALSTACK_AUTH_TOKEN (images after 4.14.0 exit without it)",
                                "export LOCALSTACK_AUTH_TOKEN=<your token>, or unset LOCALSTACK_IMAGE (4.14.0, free)"))
        else:
            checks.append(Check("backend", "auth token", Status.PASS, f"{image}: no token needed"
                                if not auth_token_needed(image) else f"{image}: LOCALSTACK_AUTH_TOKEN is set"))
    return checks


# --- tables and the stream ------------------------------------------------------------------

def tables(d: Diagnosis) -> list:
    checks = []
    for table in d.spec.tables:
        found = find(d.live.dynamodb.describe_table, "ResourceNotFoundException", TableName=table.name)
        if found is None:
            checks.append(Check("table", table.name, Status.FAIL, "missing", BOOTSTRAP))
            continue
        status = found["Table"].get("TableStatus", "ACTIVE")
        checks.append(Check("table", table.name, Status.PASS if status == "ACTIVE" else Status.FAIL,
                            f"{status}, {count_of(found['Table'].get('ItemCount'), 'item')}", "" if status == "ACTIVE" else
                            "wait a few seconds and run make doctor again"))
    return checks


def stream(d: Diagnosis) -> list:
    users = d.spec.table(d.spec.names.users)
    if d.users_table is None:
        return []
    spec = d.users_table.get("StreamSpecification") or {}
    if not spec.get("StreamEnabled"):
        return [Check("stream", users.name, Status.FAIL, "no stream: no function is ever called", BOOTSTRAP)]
    if spec.get("StreamViewType") != users.stream:
        return [Check("stream", users.name, Status.FAIL, f"{spec.get('StreamViewType')}, the functions need {users.stream}",
                      BOOTSTRAP)]
    return [Check("stream", users.name, Status.PASS, f"{users.stream} {d.stream_arn}")]


# --- mappings ---------------------------------------------------------------------------------

def mappings(d: Diagnosis) -> list:
    checks = []
    for spec in d.spec.mappings:
        checks += mapping(d, spec)
    return checks + undescribed(d)


def undescribed(d: Diagnosis) -> list:
    """Mappings on the users stream calling a function the stack does not describe (a consumer
    whose line was taken out of ddblab/stack/consumers.py, or one made by hand): every record
    still reaches it, so whatever it does goes on."""
    if not d.stream_arn:
        return []
    return [Check("mapping", u.label, Status.WARN, u.why, u.fix)
            for u in not_described(d.spec, d.lam, d.spec.names.users, d.stream_arn)]


def mapping(d: Diagnosis, spec: Mapping) -> list:
    found = find(mappings_of, "ResourceNotFoundException", lam=d.lam, function=spec.function) or []
    current = [m for m in found if m["EventSourceArn"] == d.stream_arn]
    stale = [m for m in found if m["EventSourceArn"] != d.stream_arn and f":table/{spec.table}/stream/" in m["EventSourceArn"]]
    checks = [Check("mapping", spec.label, Status.FAIL, f"{m['UUID']} reads a stale stream {m['EventSourceArn']} "
                    "(the table's stream was replaced): it will never get a record", BOOTSTRAP + " (removes it)")
              for m in stale]
    if not current:
        return checks + [Check("mapping", spec.label, Status.FAIL, "missing: nothing calls the function", BOOTSTRAP)]
    if len(current) > 1:
        checks.append(Check("mapping", spec.label, Status.FAIL, f"{len(current)} mappings on the stream (want 1): "
                            "every record reaches the function twice", BOOTSTRAP + " (removes the duplicates)"))
    m = current[0]
    uuid = m["UUID"]
    if m.get("State") != "Enabled":
        checks.append(Check("mapping", spec.label, Status.FAIL, f"{m.get('State')}: the function gets no records",
                            BOOTSTRAP + " (enables it)"))
    settings_wrong = []
    if m.get("BatchSize") != spec.batch_size:
        settings_wrong.append(f"BatchSize {m.get('BatchSize')} (want {spec.batch_size})")
    position = m.get("StartingPosition")
    if position and position != spec.starting_position:
        settings_wrong.append(f"StartingPosition {position} (want {spec.starting_position})")
    if settings_wrong:
        checks.append(Check("mapping", spec.label, Status.FAIL, "; ".join(settings_wrong),
                            f"{BOOTSTRAP} (updates it; a starting position is replaced: a new mapping)"))
    checks += last_result(d, spec, m)
    checks += missed_by_latest(d, spec, m)
    checks += filter_check(d, spec, m)
    if not any(c.failed for c in checks):
        checks.insert(0, Check("mapping", spec.label, Status.PASS, f"{uuid} Enabled, BatchSize {m.get('BatchSize')}, "
                               f"{position or '?'}, on the current stream, last result: {processing_result(m)}"))
    return checks


def last_result(d: Diagnosis, spec: Mapping, m: dict) -> list:
    result = processing_result(m)
    if "FAILED" in result.upper() or "PROBLEM" in result.upper():
        # Failed only while nothing moved past it: a batch sent to the dead-letter queue has left
        # the stream, and the mapping goes on (the waiting dead letter is the queue's check).
        letter = d.dead_lettered_since_last_error(spec.function) if d.start_error(spec.function) is None else None
        if letter is not None:
            return [Check("mapping", spec.label, Status.NOTE, f"that failed batch went to the dead-letter queue "
                          f"{queue_contents.ago(letter.age)} ago; nothing failed since", "make redrive, once it is fixed")]
        if (fixed := updated_after_failure(d, spec)) is not None:
            return [fixed]
        return [Check("mapping", spec.label, Status.FAIL, f"last batch {result}: {d.failure_reason(spec.function)}",
                      d.fix_for_function(spec.function))]
    if d.backend == Backend.LOCALSTACK and result == "No records processed":
        # LocalStack never reports a failed batch here: a function that cannot start fails
        # every batch all the same, so the link is broken, as MiniStack's FAILED result says.
        if d.start_error(spec.function) is not None:
            return [Check("mapping", spec.label, Status.FAIL, f"every batch fails: {d.failure_reason(spec.function)}",
                          d.fix_for_function(spec.function))]
        # the mapping's own line says the result already: the note says what it is worth, once
        return [Check("mapping", spec.label, Status.NOTE, "LocalStack 4.14 never updates the last result: the "
                      "function's log and the probe tell what happened")]
    return []


def updated_after_failure(d: Diagnosis, spec: Mapping) -> Check | None:
    """A backend keeps a mapping's last result until another batch comes (MiniStack: FAILED,
    after a fix was deployed and the failed batch redriven): when the function starts and was
    updated after its last failure, that result says nothing of the code deployed now."""
    if d.start_error(spec.function) is not None:
        return None
    failed, updated = d.failed_at(spec.function), d.updated_at(spec.function)
    if failed is None or updated is None or updated <= failed:
        return None
    return Check("mapping", spec.label, Status.WARN, f"{failed_before_update(d, spec)}: the next record will tell "
                 "whether the fix holds", "make doctor (its probe sends a record through), or write one, then make status",
                 function=spec.function, awaits_record=True)


def failed_before_update(d: Diagnosis, spec: Mapping) -> str:
    return (f"last batch FAILED at {clock(d.failed_at(spec.function) or 0)}, before the function was updated at "
            f"{clock(d.updated_at(spec.function) or 0)}")


def settled(d: Diagnosis, check: Check, probed: list) -> Check:
    """A mapping check that waited for its function's next record, once doctor's probe has
    sent one: PASS when the probe went through the function, FAIL with the fix when it did
    not. A function the probe cannot see into (no view of its own, not audit) is judged by
    its mapping's last result, asked again."""
    spec = next(m for m in d.spec.mappings if m.label == check.name)
    seen = [c for c in probed if c.function == check.function]
    if not seen:
        seen = [Check("mapping", check.name, Status.PASS if through(d, spec) else Status.FAIL, "")]
    if all(not c.failed for c in seen):
        return Check("mapping", check.name, Status.PASS, f"{failed_before_update(d, spec)}; this run's probe record "
                     "went through it since: the fix holds", function=check.function)
    return Check("mapping", check.name, Status.FAIL, f"{failed_before_update(d, spec)}; this run's probe record "
                 "failed in it too: the fix does not hold", d.fix_for_function(check.function), function=check.function)


def through(d: Diagnosis, spec: Mapping, timeout: float = 5.0) -> bool:
    """Whether the mapping's last result leaves FAILED within `timeout` (its next batch succeeded)."""
    def result() -> str:
        found = mappings_of(d.lam, spec.function)
        return processing_result(found[0]) if found else "FAILED"
    try:
        wait_for(lambda: "FAILED" not in result().upper(), f"{spec.label} to process a batch", timeout=timeout)
        return True
    except WaitTimeout:
        return False


def clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def first_record_time(d: Diagnosis) -> float | None:
    """When the oldest record the stream still holds was written."""
    from ddblab.inspect.stream import StreamReader, epoch
    if d.stream_arn is None:
        return None
    reader = StreamReader(d.live.client("dynamodbstreams"), d.stream_arn, from_start=True)
    reader.discover()
    for cursor in reader.cursors.values():
        if cursor.iterator:
            records = reader.streams.get_records(ShardIterator=cursor.iterator, Limit=1).get("Records", [])
            if records:
                return epoch(records[0]["dynamodb"].get("ApproximateCreationDateTime"))
    return None


def missed_by_latest(d: Diagnosis, spec: Mapping, m: dict) -> list:
    if m.get("StartingPosition") != "LATEST":
        return []
    created = m.get("LastModified")
    created = created.timestamp() if isinstance(created, datetime) else (float(created) if created else None)
    first = first_record_time(d)
    if created is None or first is None or first >= created - 1:  # the stream's clock counts whole seconds
        return []
    return [Check("mapping", spec.label, Status.FAIL, f"StartingPosition LATEST, created {time.ctime(created)}, after records "
                  f"written from {time.ctime(first)}: the function never sees those",
                  f"{BOOTSTRAP} (replaces it with a TRIM_HORIZON mapping, which reads the stream from its start); "
                  "then make reconcile ARGS=--fix for what the stream no longer holds")]


def sample_record(d: Diagnosis) -> dict:
    """A stream record for an item of the current table (any one; a walkthrough user when it is empty)."""
    items = d.live.dynamodb.scan(TableName=d.spec.names.users, Limit=1).get("Items", [])
    item = items[0] if items else to_item(walkthrough()[0])
    return {"eventName": "INSERT", "eventSource": "aws:dynamodb", "eventVersion": "1.1",
            "awsRegion": d.settings.region, "eventSourceARN": d.stream_arn,
            "dynamodb": {"Keys": {"email": item["email"]}, "NewImage": item, "StreamViewType": "NEW_AND_OLD_IMAGES",
                         "SequenceNumber": "1", "SizeBytes": len(json.dumps(item))}}


def filter_check(d: Diagnosis, spec: Mapping, m: dict) -> list:
    criteria = m.get("FilterCriteria") or {}
    if not criteria.get("Filters"):
        return []
    record = sample_record(d)
    email = record["dynamodb"]["Keys"]["email"].get("S")
    fix = f"{BOOTSTRAP} (removes the filter: the stack filters nothing)"
    try:
        passed = filters.passes(criteria, record)
    except (filters.Unknown, ValueError) as unknown:
        return [Check("mapping", spec.label, Status.WARN, f"FilterCriteria with {unknown}: not checked", fix)]
    if passed:
        return [Check("mapping", spec.label, Status.WARN,
                      f"FilterCriteria set (the stack sets none); an INSERT of {email} passes", fix)]
    patterns = "; ".join(f["Pattern"] for f in criteria["Filters"])
    return [Check("mapping", spec.label, Status.FAIL, f"FilterCriteria {patterns} drop an INSERT of {email}: "
                  "the function never sees such records", fix)]


# --- functions and roles -------------------------------------------------------------------------

def functions(d: Diagnosis) -> list:
    checks = []
    for spec in d.spec.functions:
        checks += function(d, spec)
    return checks


def function(d: Diagnosis, spec) -> list:
    found = find(d.lam.get_function, "ResourceNotFoundException", FunctionName=spec.name)
    if found is None:
        return [Check("function", spec.name, Status.FAIL, "missing: its mapping has nothing to call", BOOTSTRAP)]
    config = found["Configuration"]
    state, update = config.get("State", "Active"), config.get("LastUpdateStatus", "Successful")
    if state != "Active":
        return [Check("function", spec.name, Status.FAIL, f"{state}: {config.get('StateReason') or '-'}", BOOTSTRAP)]
    checks = []
    if update not in ("Successful", "InProgress"):
        checks.append(Check("function", spec.name, Status.FAIL,
                            f"last update {update}: {config.get('LastUpdateStatusReason') or '-'}", BOOTSTRAP))
    error = d.start_error(spec.name)
    if error is not None:
        checks.append(Check("function", spec.name, Status.FAIL, f"fails on start (every invocation): {error}",
                            d.fix_for_function(spec.name)))
    if not checks:
        checks.append(Check("function", spec.name, Status.PASS, f"Active, last update {update}, starts cleanly"))
    errors = [clause for _, clause in d.errors(spec.name)]
    if errors:
        updated, failed = d.updated_at(spec.name), d.failed_at(spec.name)
        before = f" (all before its update at {clock(updated)})" if updated and failed and failed < updated else ""
        checks.append(Check("function", spec.name, Status.WARN, f"{plural(len(errors), 'recent error line')} in its log"
                            f"{before}, the last: {errors[-1]}", f"make logs ARGS='--function {spec.module} --since 15m'"))
    return checks


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def missing_grants(wanted: list, actual: list) -> list:
    """The actions of `wanted` that no Allow statement of `actual` grants on the same resources."""
    missing = []
    for statement in wanted:
        resources = set(as_list(statement["Resource"]))
        for action in as_list(statement["Action"]):
            granted = any(s.get("Effect") == "Allow" and any(a in (action, "*", action.split(":")[0] + ":*")
                                                             for a in as_list(s.get("Action", [])))
                          and (resources <= set(as_list(s.get("Resource", []))) or "*" in as_list(s.get("Resource")))
                          for s in actual)
            if not granted:
                missing.append(action)
    return missing


def roles(d: Diagnosis) -> list:
    iam, checks = d.live.client("iam"), []
    for spec in d.spec.functions:
        answer = find(iam.get_role_policy, "NoSuchEntity", RoleName=spec.role, PolicyName=Names.POLICY)
        if answer is None:
            exists = find(iam.get_role, "NoSuchEntity", RoleName=spec.role) is not None
            checks.append(Check("role", spec.role, Status.FAIL, "no policy" if exists else "missing", BOOTSTRAP))
            continue
        document = answer["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(unquote(document))
        missing = missing_grants(spec.policy, as_list(document.get("Statement", [])))
        if missing:
            checks.append(Check("role", spec.role, Status.FAIL, f"does not allow {', '.join(sorted(set(missing)))}: "
                                "the function's calls are refused where IAM is enforced", BOOTSTRAP))
        else:
            checks.append(Check("role", spec.role, Status.PASS, "allows what the function needs"))
    return checks


# --- queues, caveats ------------------------------------------------------------------------------

def queues(d: Diagnosis) -> list:
    checks = []
    for kind in QueueKind:
        name = getattr(d.spec.names, kind)
        try:
            url = d.live.queue_url(kind)
            depth = d.live.queue_depth(kind)
        except ClientError:
            checks.append(Check("queue", name, Status.FAIL, "missing", BOOTSTRAP))
            continue
        if not depth:
            checks.append(Check("queue", name, Status.PASS, "empty"))
            continue
        oldest = d.dead_letters if kind == QueueKind.DLQ else queue_contents.peek(d.live.sqs, url, kind, limit=10)
        age = queue_contents.ago(oldest[0].age) if oldest else "?"
        what = "records replicate could not place" if kind == QueueKind.QUARANTINE else \
            "batches whose retries ran out: the function failed on them and never applied their changes"
        checks.append(Check("queue", name, Status.FAIL if kind == QueueKind.DLQ else Status.WARN,
                            f"{plural(depth, 'message')}, the oldest {age} old: {what}",
                            "make quarantine (read them), then " + (
                                redrive_fix(d.spec, oldest) if kind == QueueKind.DLQ else REPAIR)))
    return checks


REPAIR = "make redrive (or make reconcile ARGS=--fix)"  # replicate's: its view can be recomputed too


def redrive_fix(stack, letters: list) -> str:
    """What puts these dead letters right. make redrive replays a batch to the consumer that
    failed it; make reconcile recomputes only a view that declares how (replicate's), so for a
    replay-only consumer (audit, or one added with make consumer) it is never the fix."""
    replay_only = sorted({c.module for m in letters if (c := stack.consumer(m.function)) is not None and not c.reconcile})
    if not replay_only:
        return REPAIR
    names = " and ".join(replay_only)
    verb = "is" if len(replay_only) == 1 else "are"
    return f"make redrive once it is fixed ({names} {verb} not reconcilable: replay to repair)"


def api(d: Diagnosis) -> list:
    from ddblab.core.settings import UserError
    try:
        return [Check("api", d.spec.api.name, Status.PASS, d.live.api_url)]
    except UserError:
        return [Check("api", d.spec.api.name, Status.FAIL, "missing: no REST API of that name", BOOTSTRAP)]


def caveats(d: Diagnosis) -> list:
    if d.backend == Backend.MINISTACK:
        return [Check("caveat", "ministack", Status.NOTE, "a failing batch blocks its stream and is retried every ~1 s until "
                      "MaximumRecordAgeInSeconds, then goes to the dead-letter queue (MaximumRetryAttempts is ignored)"),
                Check("caveat", "ministack", Status.NOTE, "partial batch responses (ReportBatchItemFailures) are ignored for "
                      "streams: the batch counts as succeeded (replicate never relies on them)"),
                Check("caveat", "ministack", Status.NOTE, "stream functions run one after another on one poller thread: "
                      "a slow function delays the others")]
    if d.backend == Backend.LOCALSTACK:
        return [Check("caveat", "localstack", Status.NOTE, "updating a mapping rebuilds its poller and replays the stream "
                      "from TRIM_HORIZON (bootstrap updates only on real drift)"),
                Check("caveat", "localstack", Status.NOTE, "disabling then re-enabling the users stream fails (issue 12491): "
                      "delete and recreate the table instead")]
    return []


# The links of the chain, in its order: doctor runs them all, status the ones about the stack.
STEPS = (tables, stream, mappings, functions, roles, api, queues, caveats)


def run(d: Diagnosis, probe: bool = True, deadline: float = 20.0):
    """Every check, in the order of the chain, as they are made (a generator, so doctor
    prints each line as it comes)."""
    first = backend(d)
    yield from first
    if any(c.failed and c.name != "auth token" for c in first):
        return
    waiting = []  # checks the probe's record settles: said once it went through
    for step in STEPS:
        for check in step(d):
            if probe and check.awaits_record:
                waiting.append(check)
            else:
                yield check
    if probe:
        from ddblab.diagnose.probe import probe as send_probe
        probed = send_probe(d, deadline)
        yield from probed
        for check in waiting:
            yield settled(d, check, probed)
