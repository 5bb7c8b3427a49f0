"""The chain of a stack as nodes and links, drawn from its description (describe()): the
API, its function, the users table, the stream, then for each mapping its function and what
that function writes (a table, a queue, else its log), and the dead-letter queue every
mapping sends to. Nothing here names a consumer: a consumer added to the description is
drawn like the others. Doctor's checks are placed on the node they are about. Pure."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

# What a function may do to a table that changes it: a table it writes is drawn after it.
TABLE_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
QUEUE_SENDS = {"sqs:SendMessage", "sqs:SendMessageBatch"}
ORDER = {"pass": 0, "note": 0, "warn": 1, "fail": 2}


@dataclass
class Node:
    id: str
    kind: str  # api | function | table | stream | mapping | queue | log
    name: str
    column: int  # left to right, in the order records flow
    links: list = field(default_factory=list)  # ids of the nodes this one feeds

    def as_dict(self) -> dict:
        return asdict(self)


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def writes(function, stack) -> tuple:
    """(tables, queues) the function's own policy lets it write, in the description's order:
    what it writes is what it is allowed to write (least privilege)."""
    tables, queues = [], []
    for statement in function.policy:
        actions = set(as_list(statement.get("Action", [])))
        resources = as_list(statement.get("Resource", []))
        if actions & TABLE_WRITES:
            tables += [t.name for t in stack.tables if stack.account.table_arn(t.name) in resources]
        if actions & QUEUE_SENDS:
            queues += [q for q in stack.queues if stack.account.queue_arn(q) in resources]
    return list(dict.fromkeys(tables)), list(dict.fromkeys(queues))


def chain(stack) -> list:
    """Every node of the stack, each with the ids it feeds."""
    names = stack.names
    api_function = stack.function(stack.api.function)
    nodes = {"api": Node("api", "api", stack.api.name, 0, [f"function:{api_function.name}"])}

    def add(node: Node) -> Node:
        return nodes.setdefault(node.id, node)

    fed, _ = writes(api_function, stack)
    add(Node(f"function:{api_function.name}", "function", api_function.name, 1, [f"table:{t}" for t in fed]))
    for table in fed:
        add(Node(f"table:{table}", "table", table, 2))
    streamed = [t for t in stack.tables if t.stream]
    for table in streamed:
        add(Node(f"table:{table.name}", "table", table.name, 2)).links.append(f"stream:{table.name}")
        add(Node(f"stream:{table.name}", "stream", f"{table.name} stream", 3))
    for mapping in stack.mappings:
        function = stack.function(mapping.function)
        nodes[f"stream:{mapping.table}"].links.append(f"mapping:{mapping.function}")
        add(Node(f"mapping:{mapping.function}", "mapping", mapping.label, 4,
                 [f"function:{function.name}", f"queue:{names.dlq}"]))
        tables, queues = writes(function, stack)
        queues = [q for q in queues if q != names.dlq]  # the mapping sends there, on the function's role
        outputs = [f"table:{t}" for t in tables] + [f"queue:{q}" for q in queues]
        add(Node(f"function:{function.name}", "function", function.name, 5, outputs or [f"log:{function.name}"]))
        for table in tables:
            add(Node(f"table:{table}", "table", table, 6))
        for queue in queues:
            add(Node(f"queue:{queue}", "queue", queue, 6))
        if not outputs:
            add(Node(f"log:{function.name}", "log", function.log_group, 6))
    if stack.mappings:
        add(Node(f"queue:{names.dlq}", "queue", names.dlq, 6))
    return list(nodes.values())


def node_of(check, stack) -> str | None:
    """The id of the node a doctor check is about (None: about the backend, or a note for all)."""
    roles = {f.role: f.name for f in stack.functions}
    labels = {m.label: m.function for m in stack.mappings}
    if check.part == "table":
        return f"table:{check.name}"
    if check.part == "stream":
        return f"stream:{check.name}"
    if check.part == "mapping" and check.name in labels:
        return f"mapping:{labels[check.name]}"
    if check.part == "function":
        return f"function:{check.name}"
    if check.part == "role" and check.name in roles:
        return f"function:{roles[check.name]}"
    if check.part == "queue":
        return f"queue:{check.name}"
    return None


def status_of(check) -> str:
    """A check's status as text (a plain string, or a string enum's value)."""
    return str(getattr(check.status, "value", check.status))


def health(checks, stack) -> dict:
    """node id -> {status, checks: [{status, detail, fix}]}, the worst status first; checks
    about no node under the key "" (the backend, the caveats)."""
    placed: dict = {}
    for check in checks:
        entry = placed.setdefault(node_of(check, stack) or "", {"status": "pass", "checks": []})
        status = status_of(check)
        entry["checks"].append({"status": status, "name": check.name, "detail": check.detail,
                                "fix": check.fix})
        if ORDER.get(status, 0) > ORDER.get(entry["status"], 0):
            entry["status"] = status
    for entry in placed.values():
        entry["checks"].sort(key=lambda c: -ORDER.get(c["status"], 0))
    return placed
