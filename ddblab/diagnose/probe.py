"""The last check: one item sent through the whole pipeline. It is written to users, must
reach users_by_location (replicate) and the audit log (audit) within a deadline, and is
removed afterwards - from users, and from users_by_location if replicate did not."""
from __future__ import annotations

import time
import uuid

from ddblab.core.kinds import Status
from ddblab.core.waiting import WaitTimeout, wait_for
from ddblab.diagnose.diagnosis import Check, Diagnosis
from ddblab.stack.code import handler_module
from ddblab.stack.model import Names

projection = handler_module("projection")
STATE, CITY = "Doctor Probe", "Probeville"


def probe(d: Diagnosis, deadline: float = 20.0) -> list:
    names, ddb, logs = d.spec.names, d.live.dynamodb, d.logs
    email = f"doctor-probe-{uuid.uuid4().hex[:10]}@example.com"
    item = {"email": {"S": email}, "state": {"S": STATE}, "city": {"S": CITY}, "zipcode": {"S": "00000"}}
    target_key = projection.target_key(item)
    started = time.monotonic()
    since_ms = int(time.time() * 1000) - 2000
    ddb.put_item(TableName=names.users, Item=item)
    checks, fix = [], "see the failed checks above; make logs ARGS=--all"
    try:
        try:
            wait_for(lambda: ddb.get_item(TableName=names.target, Key=target_key, ConsistentRead=True).get("Item"),
                     f"the probe item to reach {names.target}", timeout=deadline)
            checks.append(Check("probe", names.target, Status.PASS, f"{email} reached it in {time.monotonic() - started:.1f} s"))
        except WaitTimeout:
            checks.append(Check("probe", names.target, Status.FAIL, f"{email} written to {names.users} did not reach "
                                f"{names.target} within {deadline:.0f} s", fix))
        group = Names.log_group(names.audit)

        def audited():
            pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=since_ms)
            return any(email in e["message"] for page in pages for e in page.get("events", []))
        try:
            remaining = max(1.0, deadline - (time.monotonic() - started))
            wait_for(audited, "the probe item in the audit log", timeout=remaining)
            took = time.monotonic() - started
            checks.append(Check("probe", group, Status.PASS, f"audit logged it {took:.1f} s after the write"))
        except WaitTimeout:
            checks.append(Check("probe", group, Status.FAIL, f"no audit line for {email} within {deadline:.0f} s", fix))
    finally:
        ddb.delete_item(TableName=names.users, Key={"email": {"S": email}})
        try:
            wait_for(lambda: "Item" not in ddb.get_item(TableName=names.target, Key=target_key, ConsistentRead=True),
                     "replicate to remove the probe", timeout=5 if all(not c.failed for c in checks) else 0.5)
        except WaitTimeout:
            ddb.delete_item(TableName=names.target, Key=target_key)  # replicate is not doing it: clean up ourselves
    return checks
