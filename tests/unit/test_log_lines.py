"""The keys of the handlers' log lines have one definition (handlers/log_lines.py): the lines
hold exactly the keys it declares, and no tool that reads the lines spells one out again."""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import textwrap

import audit
import log_lines
import pytest
import replicate

from ddblab.core.settings import ROOT
from tests.fakes import FakeTarget, outage_error

RECORDS = json.loads((ROOT / "tests" / "fixtures" / "stream_records_ministack.json").read_text())
DECLARED = {value for name, value in vars(log_lines).items() if name.isupper() and isinstance(value, str)}

# The code that reads the lines: whole modules where every string is about the log, else the
# functions that read it (window.py and journey.py also build the page's own entries, whose
# fields have names of their own).
READER_MODULES = ("ddblab/inspect/render.py", "ddblab/commands/logs.py", "ddblab/commands/watch.py")
READER_FUNCTIONS = (("ddblab.flow.window", "FunctionLog.note_record"), ("ddblab.flow.window", "Window.add"),
                    ("ddblab.flow.journey", "diff"), ("ddblab.drills.fault_drill", "replicate_log"))


def copies(source: str) -> list:
    """The string literals of `source` that spell out a declared key: the key itself, or the
    key as it appears in a JSON line ('"sequence"'). Keys written are left out (of a dict
    display, or assigned): they make a dict of the reader's own (a page entry, the drill's
    totals), they do not read a log line."""
    tree = ast.parse(source)
    written = {id(key) for node in ast.walk(tree) if isinstance(node, ast.Dict) for key in node.keys if key is not None}
    written |= {id(node.slice) for node in ast.walk(tree) if isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Store)}
    return [f"line {node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in written
            and (node.value in DECLARED or any(json.dumps(key) in node.value for key in DECLARED))]


def test_declared_keys_are_the_ones_the_tools_have_always_read():
    # written by hand: README and saved log files quote these names
    assert DECLARED == {"audit", "keys", "sequence", "changes", "old", "new", "error", "replicate", "replicate_failed",
                        "records", "writes", "poison", "retries", "rejected", "quarantined",
                        "users_api", "users_api_error", "method", "route", "status", "ms"}


@pytest.mark.parametrize("event", ["INSERT", "MODIFY", "REMOVE"])
def test_audit_line_of_a_real_record_holds_exactly_the_declared_keys(event, capsys):
    # GIVEN a record as MiniStack delivered it
    record = RECORDS[event]
    # WHEN audit logs it
    audit.handler({"Records": [record]}, None)
    line = json.loads(capsys.readouterr().out)
    # THEN the line holds the declared keys, no more, and each change is old -> new
    assert sorted(line) == sorted(log_lines.AUDIT_LINE) == ["audit", "changes", "keys", "sequence"]
    assert line[log_lines.CHANGES] and all(set(change) == {"old", "new"} for change in line[log_lines.CHANGES].values())


def test_audit_line_of_an_unreadable_record_holds_error_instead_of_changes():
    record = {**RECORDS["INSERT"], "dynamodb": {**RECORDS["INSERT"]["dynamodb"], "NewImage": {"city": {"X": "?"}}}}
    assert sorted(audit.describe(record)) == ["audit", "error", "keys", "sequence"]


def test_replicate_lines_hold_exactly_the_declared_keys(monkeypatch, capsys):
    # GIVEN a real record, and a target that takes the first batch and then fails every write
    target = FakeTarget(replicate.TARGET_TABLE, [0] + [outage_error()] * 99)
    monkeypatch.setattr(replicate, "dynamodb", target)
    monkeypatch.setattr(replicate, "_backoff", lambda attempt: None)
    event = {"Records": [RECORDS["INSERT"]]}
    # WHEN the batch is replicated, then again while the target fails
    replicate.handler(event, None)
    with pytest.raises(replicate.ReplicationFailed):
        replicate.handler(event, None)
    done, failed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # THEN each is one summary under its own key, made of the declared keys
    assert list(done) == [log_lines.REPLICATE] and set(done["replicate"]) == set(log_lines.REPLICATE_SUMMARY)
    assert list(failed) == [log_lines.REPLICATE_FAILED]
    assert set(failed["replicate_failed"]) == {"records", "writes", "poison", "retries", "error"}


def test_log_line_readers_spell_out_no_key():
    found = {path: copies((ROOT / path).read_text()) for path in READER_MODULES}
    for module, qualname in READER_FUNCTIONS:
        function = importlib.import_module(module)
        for part in qualname.split("."):
            function = getattr(function, part)
        found[f"{module}.{qualname}"] = copies(textwrap.dedent(inspect.getsource(function)))
    assert {where: lines for where, lines in found.items() if lines} == {}, \
        "read these keys from handlers/log_lines.py (a second copy drifts)"


@pytest.mark.parametrize("copy", ['"audit" in entry', 'entry.get("changes") or {}', "s['retries']",
                                  "'\"sequence\"' not in message", 'SHOWN = ("audit", "keys")',
                                  r"""re.compile(r'^\{"[a-z]+": \{"records": 0,')"""])
def test_copies_catches_a_key_spelt_out(copy):
    assert copies(copy) != []


def test_copies_leaves_a_dict_of_the_readers_own_alone():
    assert copies('entry = {"sequence": sequence, "keys": keys}') == []
    assert copies('totals["retries"] += 1') == []

