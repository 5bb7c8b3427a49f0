"""Unit tests run without an emulator: handlers create boto3 clients at import, which only
needs a region and dummy credentials. Nothing here talks to AWS; clients are faked per test."""
import os

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("USERS_TABLE", "users")
os.environ.setdefault("TARGET_TABLE", "users_by_location")
os.environ.setdefault("QUARANTINE_QUEUE_URL", "http://localhost/000000000000/users-quarantine")
