"""placeholder"""
HELP = "the tables in a browser (dynamodb-admin)"


def configure(parser) -> None:
    pass


def run(args) -> int:
    return 0
