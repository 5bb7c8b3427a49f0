"""What the pipeline page keeps in memory (ddblab.flow.window), without an emulator: the
stream window stays within its size and hands a page that fell behind the newest records,
records/s counts the last ten seconds, a consumer's lag is read from its log, exactly when it
logs each record's sequence and approximately when it logs per batch, and a function's log
is counted once per event, over the last minute, errors by doctor's rule (a traceback counts once,
as its exception line)."""
from __future__ import annotations

import json
import threading

from ddblab.events import stream_record, user_image
from ddblab.flow.window import FunctionLog, Window

NOW = 1_800_000_000.0


def record(seq: int, email: str = "ada@example.com", created: float = NOW, event: str = "INSERT") -> dict:
    made = stream_record(event, new=user_image(email, "Ohio", "Dayton"), seq=seq)
    made["dynamodb"]["ApproximateCreationDateTime"] = created
    return made


def log_event(at: float, message: str, stream: str = "s1") -> dict:
    return {"timestamp": int(at * 1000), "message": message, "logStreamName": stream}


def test_window_keeps_the_newest_and_a_page_behind_gets_the_newest():
    # GIVEN a window of 3 records, fed 5
    window = Window(3)
    for seq in range(1, 6):
        window.add(record(seq, email=f"u{seq}@example.com"), read=NOW)
    # THEN it holds the newest 3, forgets the others by sequence too, and counted all 5
    assert [e["n"] for e in window.records] == [3, 4, 5]
    assert window.by_sequence.get(str(1).zfill(30)) is None
    assert window.by_sequence.get(str(3).zfill(30))["keys"] == {"email": "u3@example.com"}
    assert window.counter == 5
    # WHEN a page that has seen nothing asks for at most 2, THEN it gets the newest 2, oldest
    # first, and is told 1 more was left out; a page that has seen n=4 gets n=5 alone
    sent, skipped = window.records_after(0, limit=2)
    assert ([e["n"] for e in sent], skipped) == ([4, 5], 1)
    assert [e["n"] for e in window.records_after(4)[0]] == [5]
    assert window.records_after(5) == ([], 0)


def test_window_entry_is_what_the_tail_shows_and_history_finds_a_key():
    window = Window(10)
    window.add(record(1, "ada@example.com"))
    moved = stream_record("MODIFY", new=user_image("ada@example.com", "Ohio", "Akron"),
                          old=user_image("ada@example.com", "Ohio", "Dayton"), seq=2)
    window.add(moved)
    window.add(record(3, "bob@example.com"))
    history = window.history("ada@example.com")
    assert [(e["event"], e["changed"]) for e in history] == [
        ("INSERT", ["city", "email", "state", "zipcode"]), ("MODIFY", ["city"])]
    assert json.loads(history[1]["raw"])["dynamodb"]["OldImage"]["city"] == {"S": "Dayton"}
    assert window.history("nobody@example.com") == []


def test_stream_figures_count_the_last_ten_seconds():
    window = Window(10)
    window.add(record(1, created=NOW - 30))
    for seq in range(2, 7):
        window.add(record(seq, created=NOW - 2))
    figures = window.stream_figures(NOW)
    assert figures == {"per_second": 0.5, "window": 6, "read": 6, "newest": NOW - 2}


def test_behind_is_exact_by_the_sequence_a_consumer_logs():
    # GIVEN 4 records written 40, 30, 20 and 10 s ago, and a consumer whose log names the 2nd
    window = Window(10)
    for seq, age in ((1, 40), (2, 30), (3, 20), (4, 10)):
        window.add(record(seq, created=NOW - age))
    log = FunctionLog("/aws/lambda/audit")
    log.take(log_event(NOW - 29, json.dumps({"audit": "INSERT", "sequence": str(2).zfill(30)})))
    # THEN two are pending, and the lag is the age of the newest it processed
    assert window.behind(log, NOW) == {"pending": 2, "exact": True, "lag": 30.0}
    # WHEN it logs the 4th, THEN it is caught up
    log.take(log_event(NOW - 9, json.dumps({"audit": "INSERT", "sequence": str(4).zfill(30)})))
    assert window.behind(log, NOW) == {"pending": 0, "exact": True, "lag": 0.0}


def test_behind_is_approximate_by_a_consumers_last_invocation():
    window = Window(10)
    for seq, age in ((1, 40), (2, 30), (3, 20), (4, 10)):
        window.add(record(seq, created=NOW - age))
    log = FunctionLog("/aws/lambda/replicate")
    # no invocation seen: not known
    assert window.behind(log, NOW) == {"pending": None, "exact": False, "lag": None}
    # an invocation ended 15 s ago: records written after it are pending
    log.take(log_event(NOW - 16, "START RequestId: r1 Version: $LATEST"))
    log.take(log_event(NOW - 15, '{"replicate": {"records": 3}}'))
    log.take(log_event(NOW - 15, "REPORT RequestId: r1\tDuration: 5 ms"))
    assert window.behind(log, NOW) == {"pending": 1, "exact": False, "lag": 20.0}


def test_function_log_counts_each_event_once_over_the_last_minute():
    log = FunctionLog("/aws/lambda/replicate")
    events = [log_event(NOW - 90, "START RequestId: old Version: $LATEST"),
              log_event(NOW - 5, "START RequestId: r1 Version: $LATEST"),
              log_event(NOW - 5, '{"replicate": {"records": 2}}'),
              log_event(NOW - 5, "Traceback (most recent call last):"),
              log_event(NOW - 5, "RuntimeError: throttled"),
              log_event(NOW - 4, "END RequestId: r1"),
              log_event(NOW - 4, "REPORT RequestId: r1\tDuration: 5 ms")]
    for event in events + events[1:5]:  # read twice: the overlap of two reads
        log.take(event)
    assert log.last_minute(NOW) == {"invocations": 1, "start_checks": 0, "errors": 1,
                                    "last_error": "RuntimeError: throttled"}
    assert list(log.invocations)[-1] == {"end": NOW - 4, "lines": ['{"replicate": {"records": 2}}',
                                                                    "Traceback (most recent call last):",
                                                                    "RuntimeError: throttled"]}
    assert log.last_minute(NOW + 60)["invocations"] == 0


def test_function_log_last_error_is_a_tracebacks_exception_line_as_doctor_says():
    # GIVEN a consumer failing as MiniStack logs it, each line of the traceback an event of its own
    # (two invocations, on two log streams whose lines interleave), then as AWS logs it: the
    # exception on an [ERROR] line, the traceback in the same event, its frames ending it
    log = FunctionLog("/aws/lambda/state_counts")
    frames = ['  File "/var/task/state_counts.py", line 35, in view', '    return {"state": stat}',
              "                     ^^^^"]
    for stream in ("s1", "s2"):
        log.take(log_event(NOW - 9, "START RequestId: r-" + stream + " Version: $LATEST", stream))
    for stream in ("s1", "s2"):
        log.take(log_event(NOW - 9, "Traceback (most recent call last):", stream))
    for line in frames:
        for stream in ("s1", "s2"):
            log.take(log_event(NOW - 9, line, stream))
    log.take(log_event(NOW - 8, "NameError: name 'stat' is not defined", "s1"))
    log.take(log_event(NOW - 8, "END RequestId: r-s1", "s1"))
    log.take(log_event(NOW - 8, "KeyError: 'state'", "s2"))
    # THEN the page counts one error per traceback, and the last is its exception's line
    assert log.last_minute(NOW) == {"invocations": 2, "start_checks": 0, "errors": 2, "last_error": "KeyError: 'state'"}
    # WHEN the AWS form comes: its [ERROR] line is the error, the END after its frames is not
    log.take(log_event(NOW - 5, "START RequestId: r3 Version: $LATEST", "s3"))
    log.take(log_event(NOW - 5, "[ERROR] NameError: name 'stat' is not defined\nTraceback (most recent call last):\n"
                                + "\n".join(frames), "s3"))
    log.take(log_event(NOW - 5, "END RequestId: r3", "s3"))
    assert log.last_minute(NOW)["last_error"] == "[ERROR] NameError: name 'stat' is not defined"
    assert log.last_minute(NOW)["errors"] == 3


def test_function_log_about_a_record_by_its_sequence_or_its_invocation():
    log = FunctionLog("/aws/lambda/x")
    line = json.dumps({"audit": "INSERT", "sequence": "7"})
    log.take(log_event(NOW - 5, line))
    log.take(log_event(NOW - 3, "START RequestId: r1 Version: $LATEST"))
    log.take(log_event(NOW - 2, '{"replicate": {"records": 1}}'))
    log.take(log_event(NOW - 2, "REPORT RequestId: r1\tDuration: 5 ms"))
    assert log.about("7", NOW - 6) == {"exact": True, "lines": [line]}
    assert log.about("8", NOW - 4) == {"exact": False, "lines": ['{"replicate": {"records": 1}}']}
    assert log.about("9", NOW) == {"exact": False, "lines": []}  # written after its last invocation


def test_window_is_read_safely_while_the_stream_thread_adds():
    # GIVEN a small window one thread keeps adding to
    window, log = Window(50), FunctionLog("/aws/lambda/replicate")
    log.take(log_event(NOW, "REPORT RequestId: r1\tDuration: 5 ms"))
    records = [record(seq, email=f"u{seq}@example.com", created=NOW - 1) for seq in range(1, 20_001)]
    adder = threading.Thread(target=lambda: [window.add(r) for r in records])
    # WHEN the pages and the figures read it meanwhile
    adder.start()
    reads = 0
    while adder.is_alive() or reads == 0:
        window.records_after(0, limit=20)
        window.stream_figures(NOW)
        window.behind(log, NOW)
        window.history("u1@example.com")
        reads += 1
    adder.join()
    # THEN no read failed (a deque changed while it was walked raises), and the window is whole
    assert [e["n"] for e in window.records_after(19_998)[0]] == [19_999, 20_000]
    assert len(window) == 50
