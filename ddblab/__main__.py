from ddblab.cli import main

main()
