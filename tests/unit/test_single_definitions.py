"""Each fact has one definition: a second copy of one, written as a literal somewhere else in
ddblab/ or handlers/, fails here with the file and line, and where the one definition is."""
from __future__ import annotations

import re

import pytest

from ddblab.core.settings import ROOT

SOURCES = sorted([*(ROOT / "ddblab").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")])

# (what, a pattern that is a copy of it, the files that may hold it: the one definition)
RULES = [
    ("a backend name compared as a string (use ddblab.core.kinds.Backend)",
     r"""[=!]= ?["'](ministack|localstack|localstack-host|aws|unknown)["']|in \(["'](ministack|localstack)["']""",
     {"ddblab/core/kinds.py"}),
    ("a check status compared as a string (use ddblab.core.kinds.Status)",
     r"""status [=!]= ["'](pass|fail|warn|note)["']""", {"ddblab/core/kinds.py"}),
    ("the queue kinds spelt out (use ddblab.core.kinds.QueueKind)",
     r"""\(["']quarantine["'], ["']dlq["']\)""", {"ddblab/core/kinds.py"}),
    ("a function name cut from an ARN (use ddblab.core.aws.function_name)", r"""split\(["']:function:["']\)""",
     {"ddblab/core/aws.py"}),
    ("the error code or message of a ClientError read by hand (core.aws / projection.error_code)",
     r"""\.response(\.get\(["']Error["']|\[["']Error["']\])""", {"ddblab/core/aws.py", "handlers/projection.py"}),
    ("the emulators' port (use ddblab.core.settings.DEFAULT_PORT)", r"\b4566\b", {"ddblab/core/settings.py"}),
    ("the emulators' account (use ddblab.core.settings.EMULATOR_ACCOUNT)", r"\b000000000000\b",
     {"ddblab/core/settings.py", "ddblab/core/aws.py"}),  # aws.py: an example ARN in a docstring
    ("MiniStack's log file (use Settings.ministack_log)", r"""["']ministack\.log["']""", {"ddblab/core/settings.py"}),
    ("'refused for good' decided again (use projection.refused_for_good)", r"""== ["']ValidationException["']""",
     {"handlers/projection.py"}),
    ("the retry delay written again (use batches.retry_delay)", r"0\.05 \* 2 \*\* attempt",
     {"ddblab/data/batches.py", "handlers/replicate.py"}),  # replicate: zipped alone, its own jittered backoff
]


@pytest.mark.parametrize("what, pattern, allowed", RULES, ids=[r[0].split(" (")[0] for r in RULES])
def test_fact_defined_once(what, pattern, allowed):
    copies = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
              for path in SOURCES if str(path.relative_to(ROOT)) not in allowed
              for number, line in enumerate(path.read_text().splitlines(), 1) if re.search(pattern, line)]
    assert copies == [], f"{what}, written again:\n" + "\n".join(copies)


# A copy of each fact as someone might write it: each rule must catch its own (a rule that
# matches nothing guards nothing).
COPIES = {
    'a backend name compared': 'if backend == "localstack":',
    'a check status compared': 'if check.status != "pass":',
    'the queue kinds spelt out': 'for kind in ("quarantine", "dlq"):',
    'a function name cut': 'name = arn.split(":function:")[-1]',
    'the error code or message': 'code = error.response.get("Error", {}).get("Code")',
    "the emulators' port": 'url = "http://localhost:4566"',
    "the emulators' account": 'account = "000000000000"',
    "MiniStack's log file": 'log = run_dir / "ministack.log"',
    "'refused for good' decided": 'if error_code(error) == "ValidationException":',
    'the retry delay written': 'time.sleep(min(1.0, 0.05 * 2 ** attempt))',
}


@pytest.mark.parametrize("what, pattern, allowed", RULES, ids=[r[0].split(" (")[0] for r in RULES])
def test_fact_rule_catches_a_copy(what, pattern, allowed):
    [copy] = [line for start, line in COPIES.items() if what.startswith(start)]
    assert re.search(pattern, copy), what
