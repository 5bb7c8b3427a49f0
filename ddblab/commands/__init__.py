"""One module per `ddblab <command>`: HELP, configure(parser), run(args). Argument parsing
and printing only; the work is done by core, emulator, stack and data."""
