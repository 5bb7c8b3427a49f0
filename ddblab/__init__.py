"""ddb-streams-lab's tools, grouped by role - the folder tree is the architecture:

    core/       settings, waiting, console output, background processes
    emulator/   start, stop and check each backend (MiniStack, LocalStack); the fault proxy
    stack/      the stack described once (model, describe), converged per resource kind
                (converge/), removed, and read back as deployed; the code zips
    data/       users to write, batched writes, reconcile (target vs projection of users)
    commands/   one module per `ddblab <command>`: arguments and printing only
    cli.py      the entry point

The deployed code is not here: handlers/ (stdlib + boto3, zipped flat per function).
"""
