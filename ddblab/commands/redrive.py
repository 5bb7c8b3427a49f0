"""placeholder"""
HELP = "redrive"


def configure(parser):
    pass


def run(args):
    return 0
