"""The last check: one item sent through the whole pipeline. It is written to users, must
reach users_by_location (replicate), the audit log (audit) and the table of every consumer
that keeps a view (one added with make consumer) within one deadline, and is deleted
afterwards: each consumer's view must then let it go (the template's handler keeps of a
deleted user only its key and sequence number, so that a late replay cannot bring it back).
Nothing of the probe is left behind: it is removed from users, from users_by_location if
replicate did not, and its row from each consumer's table."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from ddblab.core.aws import log_events
from ddblab.core.kinds import Status
from ddblab.core.waiting import WaitTimeout, wait_for
from ddblab.data.views import VIEW_KEY, view_tables
from ddblab.diagnose.diagnosis import Check, Diagnosis
from ddblab.stack.code import handler_module
from ddblab.stack.model import Names

projection = handler_module("projection")
STATE, CITY = "Doctor Probe", "Probeville"
SEQUENCE = projection.VIEW_SEQUENCE  # where the template's handler keeps a row's stream position
REMOVAL = 5.0  # seconds the views have, once the probe is deleted, to let it go


def let_go(row: dict | None, seen: dict) -> bool:
    """Whether a view has let the deleted probe user go: no row, or (the template's way) a row
    holding only the key and a later sequence number than the one it held for the user."""
    if row is None:
        return True
    return set(row) <= {VIEW_KEY, SEQUENCE} and row.get(SEQUENCE) != seen.get(SEQUENCE)


@dataclass
class Probe:
    """One probe user on its way: written, awaited in each place it must reach, deleted."""
    d: Diagnosis
    deadline: float
    email: str = field(default_factory=lambda: f"doctor-probe-{uuid.uuid4().hex[:10]}@example.com")
    started: float = 0.0
    checks: list = field(default_factory=list)
    rows: dict = field(default_factory=dict)  # a view's table (named as its function) -> (the probe's row, seconds it took)

    FIX = "see the failed checks above; make logs ARGS=--all"

    @property
    def item(self) -> dict:
        return {"email": {"S": self.email}, "state": {"S": STATE}, "city": {"S": CITY}, "zipcode": {"S": "00000"}}

    @property
    def view_key(self) -> dict:
        return {VIEW_KEY: {"S": self.email}}

    def remaining(self) -> float:
        """What is left of the one deadline every place shares (a second at least)."""
        return max(1.0, self.deadline - (time.monotonic() - self.started))

    def row(self, table: str, key: dict) -> dict | None:
        return self.d.live.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def check(self, name: str, function: str, passed: bool, detail: str, fix: str = "") -> None:
        self.checks.append(Check("probe", name, Status.PASS if passed else Status.FAIL, detail, "" if passed else fix,
                                 function=function))

    def reach_target(self) -> None:
        names = self.d.spec.names
        try:
            wait_for(lambda: self.row(names.target, projection.target_key(self.item)),
                     f"the probe item to reach {names.target}", timeout=self.deadline)
            self.check(names.target, names.replicate, True,
                       f"{self.email} reached it in {time.monotonic() - self.started:.1f} s")
        except WaitTimeout:
            self.check(names.target, names.replicate, False, f"{self.email} written to {names.users} did not reach "
                       f"{names.target} within {self.deadline:.0f} s", self.FIX)

    def reach_audit_log(self, since_ms: int) -> None:
        names, logs = self.d.spec.names, self.d.logs
        group = Names.log_group(names.audit)

        def audited():
            return any(self.email in event["message"] for event in log_events(logs, group, since_ms, term=self.email))
        try:
            wait_for(audited, "the probe item in the audit log", timeout=self.remaining())
            self.check(group, names.audit, True, f"audit logged it {time.monotonic() - self.started:.1f} s after the write")
        except WaitTimeout:
            self.check(group, names.audit, False, f"no audit line for {self.email} within {self.deadline:.0f} s", self.FIX)

    def reach_views(self) -> None:
        for table in view_tables(self.d.spec):  # a consumer's table is named as its function
            try:
                seen = wait_for(lambda table=table: self.row(table, self.view_key), f"the probe's row in {table}",
                                timeout=self.remaining())
                self.rows[table] = (seen, time.monotonic() - self.started)
            except WaitTimeout:
                self.check(table, table, False, f"no row for {self.email} within {self.deadline:.0f} s: "
                           f"{table} did not take the probe's record", self.d.fix_for_function(table))

    def gone_from_target(self) -> None:
        """replicate removes the probe's row; if it does not, the probe does (no check: the
        probe's arrival there was the check)."""
        names, ddb = self.d.spec.names, self.d.live.dynamodb
        target_key = projection.target_key(self.item)
        try:
            wait_for(lambda: self.row(names.target, target_key) is None, "replicate to remove the probe",
                     timeout=REMOVAL if all(not c.failed for c in self.checks) else 0.5)
        except WaitTimeout:
            ddb.delete_item(TableName=names.target, Key=target_key)  # replicate is not doing it: clean up ourselves

    def gone_from_views(self, deleted: float) -> None:
        for table, (seen, took) in self.rows.items():
            try:
                wait_for(lambda table=table, seen=seen: let_go(self.row(table, self.view_key), seen),
                         f"{table} to let the probe go", timeout=max(0.5, REMOVAL - (time.monotonic() - deleted)))
                self.check(table, table, True, f"its row for {self.email} came in {took:.1f} s, and went "
                           f"with the user in {time.monotonic() - deleted:.1f} s")
            except WaitTimeout:
                self.check(table, table, False, f"its row for {self.email} came, but was still there "
                           f"{REMOVAL:.0f} s after the user was deleted", self.d.fix_for_function(table))
            # what is left of it goes: the key is the probe's own, unique email
            self.d.live.dynamodb.delete_item(TableName=table, Key=self.view_key)

    def run(self) -> list:
        names, ddb = self.d.spec.names, self.d.live.dynamodb
        self.started = time.monotonic()
        since_ms = int(time.time() * 1000) - 2000
        ddb.put_item(TableName=names.users, Item=self.item)
        try:
            self.reach_target()
            self.reach_audit_log(since_ms)
            self.reach_views()
        finally:
            ddb.delete_item(TableName=names.users, Key={"email": {"S": self.email}})
        deleted = time.monotonic()
        self.gone_from_target()
        self.gone_from_views(deleted)
        return self.checks


def probe(d: Diagnosis, deadline: float = 20.0) -> list:
    """The probe's checks: replicate's view, audit's log, then each consumer's view (its row
    came; then, once the user was deleted, it went). Within `deadline` seconds for the
    arrivals, and REMOVAL more for the removals."""
    return Probe(d, deadline).run()
