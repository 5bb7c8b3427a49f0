"""What every part of ddblab uses: settings, waiting, console output, background processes, and
small boto3 helpers (aws)."""
