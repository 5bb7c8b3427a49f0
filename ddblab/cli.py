"""The one entry point: `ddblab <command>` (also `python -m ddblab`). Every make target
calls it. argparse subcommands: the standard library is enough for flat commands with a
few options each, and keeps the tool's start-up fast and its dependencies few.

Each command is a module in ddblab/commands/ with HELP (one line), configure(parser) and
run(args) -> exit status; what a user can cause ends in one line that says what happened
and what to run, never a bare traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

# In the order `ddblab --help` lists them: the loop first, then the tools.
COMMANDS: tuple[str, ...]
COMMANDS = ("up", "down", "bootstrap", "status", "outputs", "seed", "logs", "query", "reconcile", "chaos", "bench")
# The way to AWS: the stack as a CloudFormation template (ddblab/stack/cloudformation_template.py).
COMMANDS += ("template", "package", "deploy-aws")
# The inner loop and recovery (ddblab/stack/reload.py, ddblab/data/recovery.py).
COMMANDS += ("dev", "event", "invoke", "redrive")
# Making it yours: a consumer of your own (ddblab/stack/scaffold.py).
COMMANDS += ("new",)
# Why didn't it fire: the chain checked, the stream watched, the queues read, the tables in a browser.
COMMANDS += ("doctor", "watch", "quarantine", "ui", "flow")


class Parser(argparse.ArgumentParser):
    """argparse, but a wrong argument is one line, as every other error of the tools is:
    `error: <what> - run: <where the arguments are explained>`; the usage is for --help.
    add_subparsers makes its parsers of this class too (its parser_class), so every
    command and sub-command says it the same way."""

    def error(self, message: str) -> NoReturn:
        if self.prog == "ddblab":
            said = f"error: {message} - run: make help"
        elif self.prog.startswith("ddblab "):  # a command: named, and its own --help
            command = self.prog.removeprefix("ddblab ")
            said = f"error: {command}: {message} - run: .venv/bin/ddblab {command} --help"
        else:
            said = f"error: {message} - run: {self.prog} --help"
        print(said, file=sys.stderr)
        sys.exit(2)  # argparse's status for a wrong argument


def parser(only: str | None = None) -> Parser:
    """The whole CLI; with `only`, just that command (the others' modules are not imported:
    `ddblab outputs api_url` in a shell line should not pay for twenty imports)."""
    top = Parser(
        prog="ddblab", description="ddb-streams-lab: DynamoDB Streams -> Lambda on a local AWS emulator",
        epilog="settings come from the environment: EMULATOR, AWS_ENDPOINT_URL, STACK_PREFIX (see README.md)")
    sub = top.add_subparsers(dest="command", metavar="<command>", required=True)
    for name in (only,) if only else COMMANDS:
        module = importlib.import_module(f"ddblab.commands.{name.replace('-', '_')}")
        command = sub.add_parser(name, help=module.HELP, description=(module.__doc__ or module.HELP).strip(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        module.configure(command)
        command.set_defaults(run=module.run)
    return top


def parse(argv: list) -> argparse.Namespace:
    """The arguments of one command line; a wrong one exits with one line naming the command
    (argparse would leave an unknown option to the top parser, which knows no command)."""
    top = parser(argv[0] if argv and argv[0] in COMMANDS else None)
    args, unknown = top.parse_known_args(argv)
    if unknown:
        innermost(top, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def innermost(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub-)command parser these arguments chose (`ddblab event stream`'s, not ddblab's)."""
    while True:
        chosen = [action.choices[getattr(args, action.dest)] for action in parser._actions
                  if isinstance(action, argparse._SubParsersAction) and getattr(args, action.dest, None) in action.choices]
        if not chosen:
            return parser
        parser = chosen[0]


def main(argv: list | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv

    def command() -> int:
        # Inside run(): importing a command imports the handlers it reads, which can fail (UserError)
        args = parse(argv)
        return args.run(args)
    run(command)


def run(call) -> None:
    """Run a command so that what a user can cause ends in one line that says what happened
    and what to run: Ctrl-C exits quietly, UserError prints its message, timeouts, a lost
    emulator and AWS errors are summarised (LAB_TRACEBACK=1 shows their traceback).
    Anything else is a bug: its traceback is kept, with a line saying so."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    from ddblab.core.aws import error_code, error_message
    from ddblab.core.settings import UserError
    from ddblab.core.waiting import WaitTimeout
    try:
        sys.exit(call())
    except UserError as error:
        sys.exit(f"error: {error}")
    except KeyboardInterrupt:
        print()
        sys.exit(130)
    except BrokenPipeError:  # `ddblab status | head -3`: the reader has what it wanted
        sys.stderr.close()
        sys.exit(0)
    except (ConnectionError, HTTPClientError, ClientError, WaitTimeout) as error:
        if os.environ.get("LAB_TRACEBACK") == "1":
            raise
        if isinstance(error, ClientError):
            message = f"{error.operation_name} failed: {error_code(error)}: {error_message(error)} - run: make status"
        elif isinstance(error, WaitTimeout):
            message = f"{error} - look at: make status, make logs"
        else:
            message = f"lost the emulator: {error} - is it still up? run: make status"
        sys.exit(f"error: {message}")
    except SystemExit:
        raise
    except Exception:
        print("error: this is a bug in ddb-streams-lab, not something you did; the traceback follows",
              file=sys.stderr)
        raise
