"""make dev across make down / make up: when the emulator stops answering it waits for the
stack to come back and watches again, instead of exiting (the backend is faked here)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from ddblab.commands import dev
from ddblab.core.settings import UserError


class FakeReload:
    switched = False
    hot_reload_dir = None

    def __init__(self, label: str):
        self.label = label

    def start(self):
        return SimpleNamespace(refused="", line=lambda: f"{self.label} started")


def test_dev_emulator_gone_waits_for_the_stack_then_watches_again(monkeypatch, capsys):
    live = SimpleNamespace(settings=SimpleNamespace(endpoint_url="http://localhost:4566"), require_tables=lambda: None)
    reloads = iter([FakeReload("first"), FakeReload("second")])
    watched = []

    def watch(reload, settings):
        watched.append(reload.label)
        if len(watched) == 1:
            raise UserError("the emulator on http://localhost:4566 stopped answering")
    monkeypatch.setattr(dev.Deployed, "connect", staticmethod(lambda: live))
    monkeypatch.setattr(dev, "reloader", lambda live, use_zip=False: next(reloads))
    monkeypatch.setattr(dev, "watch", watch)
    monkeypatch.setattr(dev, "health", lambda url: None)  # gone
    monkeypatch.setattr(dev, "wait_for_stack", lambda settings: live)
    # WHEN dev runs and its emulator goes away during the first watch
    assert dev.run(SimpleNamespace(measure=None, zip=False)) == 0
    # THEN it said so, waited, and watched again with a new reloader
    out = capsys.readouterr().out
    assert "stopped answering: waiting for it and the stack to come back (make up)" in out
    assert "the stack is back: second started" in out and watched == ["first", "second"]


def test_dev_error_while_the_emulator_answers_still_ends_dev(monkeypatch):
    live = SimpleNamespace(settings=SimpleNamespace(endpoint_url="http://localhost:4566"), require_tables=lambda: None)
    monkeypatch.setattr(dev.Deployed, "connect", staticmethod(lambda: live))
    monkeypatch.setattr(dev, "reloader", lambda live, use_zip=False: FakeReload("first"))
    monkeypatch.setattr(dev, "watch", lambda reload, settings: (_ for _ in ()).throw(UserError("something else")))
    monkeypatch.setattr(dev, "health", lambda url: {"services": {}})  # it answers: not a restart
    with pytest.raises(UserError):
        dev.run(SimpleNamespace(measure=None, zip=False))
