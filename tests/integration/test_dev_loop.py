"""The inner loop and the recovery loop: hot reload, invoke, redrive."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid

from ddblab import stack
from ddblab.core.waiting import wait_for
from ddblab.data.recovery import redrive
from ddblab.emulator.health import emulator_name, free_port
from ddblab.events import change_record, stream_event, user_image
from ddblab.stack.deployed import Deployed
from ddblab.stack.reload import Reloader, copy_handlers
from tests.integration.helpers import backend_of, target_rows, user_item


def reloader(live: Deployed, handlers) -> Reloader:
    return Reloader(live.client("lambda"), live.stack.functions, handlers,
                    wait_active=emulator_name(live.settings.endpoint_url) != "ministack")


def queue_empty(live: Deployed, kind: str) -> bool:
    return not live.sqs.receive_message(QueueUrl=live.queue_url(kind), MaxNumberOfMessages=10,
                                        VisibilityTimeout=0, WaitTimeSeconds=0).get("Messages")


def quarantined(live: Deployed, email: str):
    def found():
        for m in live.sqs.receive_message(QueueUrl=live.queue_url("quarantine"), MaxNumberOfMessages=10,
                                          VisibilityTimeout=0, WaitTimeSeconds=1).get("Messages", []):
            if email in m["Body"]:
                return True
    return wait_for(found, f"{email} in the quarantine queue", timeout=30)


def test_redrive_poison_user_fixed_in_source_ends_in_step_with_empty_quarantine(own, tmp_path, email):
    # GIVEN replicate running code that refuses users in Springfield (a bug)
    handlers = copy_handlers(tmp_path / "handlers")
    fixed = (handlers / "projection.py").read_text()
    (handlers / "projection.py").write_text(fixed.replace(
        '    sort_key = f"{city}{SEPARATOR}{email}"',
        '    if city == "Springfield":\n        raise Unplaceable("a bug")\n    sort_key = f"{city}{SEPARATOR}{email}"'))
    reload = reloader(own, handlers)
    assert reload.saved([handlers / "projection.py"]).updated
    # AND a user it therefore quarantined
    own.dynamodb.put_item(TableName=own.names.users, Item=user_item(email, state="Ohio", city="Springfield"))
    quarantined(own, email)
    assert target_rows(own, email) == []
    # WHEN the source is fixed, deployed, and the quarantine redriven
    (handlers / "projection.py").write_text(fixed)
    assert reload.saved([handlers / "projection.py"]).updated
    outcome = redrive(own)
    # THEN the user is in step and the quarantine is empty
    assert [r["city_email"]["S"] for r in target_rows(own, email)] == [f"Springfield#{email}"]
    assert email not in outcome.stuck and not outcome.left
    assert queue_empty(own, "quarantine")


def test_redrive_quarantine_message_older_than_current_state_never_overwrites_it(own, email):
    # GIVEN a user quarantined (no city), then fixed at the source: replicated to Dayton
    own.dynamodb.put_item(TableName=own.names.users, Item={"email": {"S": email}, "state": {"S": "Ohio"}})
    quarantined(own, email)
    own.dynamodb.put_item(TableName=own.names.users, Item=user_item(email, state="Ohio", city="Dayton"))
    wait_for(lambda: [r["city"]["S"] for r in target_rows(own, email)] == ["Dayton"], f"{email} in Dayton", timeout=30)
    # AND a quarantine message holding an older, placeable image (Akron)
    older = change_record(None, user_image(email, "Ohio", "Akron"))
    own.sqs.send_message(QueueUrl=own.queue_url("quarantine"), MessageBody=json.dumps({"reason": "old", "record": older}))
    # WHEN redriven
    outcome = redrive(own)
    # THEN the current state stands: Dayton, never Akron; both messages are gone
    assert [r["city"]["S"] for r in target_rows(own, email)] == ["Dayton"]
    assert not outcome.left and len(outcome.redriven) >= 2
    assert queue_empty(own, "quarantine")


def test_redrive_dead_letter_batch_read_back_from_stream(backend_settings):
    settings = backend_settings.sub(f"dlq{uuid.uuid4().hex[:5]}-")
    ministack = backend_of(settings) == "ministack"
    try:
        # GIVEN replicate failing for good (its endpoint is a port nothing listens on), so a batch is dead-lettered
        stack.converge(settings, replicate_env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "WRITE_ATTEMPTS": "1"},
                       max_record_age=5 if ministack else 60, max_retries=10 if ministack else 0)
        live = Deployed(settings)
        emails = [f"dl{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(3)]
        live.dynamodb.batch_write_item(RequestItems={live.names.users: [
            {"PutRequest": {"Item": user_item(e, state="Ohio", city="Kent")}} for e in emails]})
        wait_for(lambda: live.queue_depth("dlq") > 0 and live.queue_depth("dlq"), "a dead letter", timeout=90)
        # WHEN replicate is fixed (the stream has moved past the batch) and the queues redriven
        stack.converge(settings, max_record_age=5 if ministack else 60, max_retries=10 if ministack else 0)
        outcome = redrive(live)
        # THEN the users are in the target, read back from the stream, and the dead-letter queue is empty
        for e in emails:
            assert [r["city"]["S"] for r in target_rows(live, e)] == ["Kent"]
        assert not outcome.left
        wait_for(lambda: queue_empty(live, "dlq"), "an empty dead-letter queue", timeout=30)
    finally:
        stack.remove(settings)


def test_hot_reload_takes_effect_on_next_record_while_stream_flows(own, tmp_path):
    handlers = copy_handlers(tmp_path / "handlers")
    reload = reloader(own, handlers)
    run = uuid.uuid4().hex[:6]
    written, stop = [], threading.Event()

    def keep_writing():  # the stream keeps flowing throughout
        while not stop.is_set():
            e = f"flow{len(written)}-{run}@example.com"
            own.dynamodb.put_item(TableName=own.names.users, Item=user_item(e, state="Ohio", city="Lima"))
            written.append(e)
            stop.wait(0.05)
    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        wait_for(lambda: len(written) > 5 and target_rows(own, written[0]), "the stream flowing", timeout=30)
        # WHEN the shared projection is saved with a change (a new attribute on every row)
        source = (handlers / "projection.py").read_text()
        changed = source.replace("    item.update(key)\n", '    item.update(key)\n    item["reloaded"] = {"BOOL": True}\n')
        assert changed != source, "projection.project no longer has the line this test changes: pick another"
        (handlers / "projection.py").write_text(changed)
        done = reload.saved([handlers / "projection.py"])
        assert set(done.updated) == {f.name for f in own.stack.functions}, done.line()
        after = len(written)
        # THEN the next records are projected by the new code
        wait_for(lambda: len(written) > after + 3, "more writes after the reload", timeout=30)
        probe = written[after + 2]
        wait_for(lambda: [r.get("reloaded") for r in target_rows(own, probe)] == [{"BOOL": True}],
                 f"{probe} projected by the reloaded code", timeout=30)
    finally:
        stop.set()
        writer.join()
    # AND nothing was lost while it switched: every user written reached the target
    wait_for(lambda: all(target_rows(own, e) for e in written), "every user written in the target", timeout=60)


def test_broken_save_refused_and_running_function_keeps_working(own, tmp_path):
    handlers = copy_handlers(tmp_path / "handlers")
    reload = reloader(own, handlers)
    lam = own.client("lambda")
    before = lam.get_function_configuration(FunctionName=own.names.audit)["CodeSha256"]
    # WHEN audit.py is saved with a syntax error on its last line
    source = (handlers / "audit.py").read_text()
    (handlers / "audit.py").write_text(source + "def broken(:\n")
    line = source.count("\n") + 1
    done = reload.saved([handlers / "audit.py"])
    # THEN it is refused with its line, nothing is deployed, and the function still answers
    assert f"audit.py, line {line}" in done.refused and "not deployed" in done.refused and not done.updated
    assert lam.get_function_configuration(FunctionName=own.names.audit)["CodeSha256"] == before
    answer = lam.invoke(FunctionName=own.names.audit, Payload=json.dumps(stream_event()).encode())
    assert "FunctionError" not in answer and json.loads(answer["Payload"].read()) == {"audited": 0}


def test_invoke_prints_what_the_function_returned(own, tmp_path, email):
    event = tmp_path / "event.json"
    event.write_text(json.dumps(stream_event(change_record(None, user_image(email, "Ohio", "Xenia")))))
    env = dict(os.environ, AWS_ENDPOINT_URL=own.settings.endpoint_url, STACK_PREFIX=own.settings.prefix)
    result = subprocess.run([sys.executable, "-m", "ddblab", "invoke", "replicate", "--event", str(event)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.split("\n", 1)[1].split("--- log")[0])
    assert answer == {"records": 1, "writes": 1, "poison": 0, "retries": 0, "rejected": 0, "quarantined": 0}
    assert [r["city"]["S"] for r in target_rows(own, email)] == ["Xenia"]
