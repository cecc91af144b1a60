"""What every command shares: the settings, the application and the read models, built lazily."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.store.settings import Settings, open_ledger


class Context:
    def __init__(self, settings: Settings, actor_given: bool = True, key: str | None = None):
        self.settings = settings
        self.actor_given = actor_given  # --actor or LEDGER_ACTOR, not the login name
        self.key = key  # --key KEYFILE or LEDGER_KEY: loaded by the commands that write or sign
        self._signer: Any = None
        self._app: Any = None
        self._read_models: Any = None
        self._throwaway: list[Any] = []
        self._scratch: list[Any] = []

    def app(self, create: bool = False, checked: bool = False) -> Any:
        """The application; writers create the ledger, everyone else needs it to exist."""
        if self._app is None:
            self._app = open_ledger(self.settings, create=create, checked=checked)
        if create:
            self._app.recorder.signer = self.signer()
        return self._app

    def has_ledger(self) -> bool:
        """Whether the ledger exists: known once it is open, else one probe of the database."""
        return self._app is not None or self.settings.exists()

    def signer(self) -> Any:
        """The key every event this command writes is signed with, if one is given."""
        if self._signer is None and self.key:
            from ledger.app.evidence import Signer

            self._signer = Signer(self.key)
        return self._signer

    def read_models(self, as_of: str | None = None, recorded: list[Any] | None = None, catch_up: bool = True) -> Any:
        """The read models, caught up with the ledger (every read calls this first); with
        `as_of`, a throw-away copy built from the events up to that point."""
        if as_of is not None:
            from projections.readmodels import ReadModels

            app = self.app()
            as_of_models = ReadModels.as_of(app, app.position_at(as_of))
            self._throwaway.append(as_of_models)
            return as_of_models
        if self._read_models is None:
            self.settings.require()
            from projections.readmodels import ReadModels

            self._read_models = ReadModels(self.settings)
        if catch_up:
            self._read_models.catch_up(recorded=recorded)
        return self._read_models

    def light_read(self) -> Any:
        """A bare read-only connection when the read models are up to date, else None (and the
        caller's ordinary path says whether there is a ledger at all)."""
        from projections.light import open_light

        return open_light(self.settings)

    @property
    def actor(self) -> str:
        """Who records: checked only by the commands that write. With a key, the actor is the
        one the key is registered to, and an --actor that names someone else is refused."""
        from ledger.store.settings import check_actor

        name = check_actor(self.settings.actor)
        signer = self.signer()
        if signer is None:
            return name
        key = self.app(create=True, checked=True).key(signer.key_id) if self.has_ledger() else None
        return name if key is None else self.actor_of_key(key.owner, signer.key_id)

    def actor_of_key(self, owner: str, key_id: str) -> str:
        from ledger.errors import Refused
        from ledger.store.settings import check_actor

        if self.actor_given and check_actor(self.settings.actor) != owner:
            raise Refused(f"--actor {self.settings.actor!r} disagrees with --key: key {key_id} is registered "
                          f"to {owner!r}; nothing was stored")
        return owner

    def writer(self) -> tuple[Any, Callable[[], Any]]:
        """(the application a write is checked against, a callable giving the one it is stored
        in). While no ledger exists, the write is checked against an empty one in memory and the
        ledger is created only to store it: a refused write leaves no new ledger behind."""
        if self.has_ledger():
            app = self.app(create=True, checked=True)
            return app, lambda: app
        from ledger.store.settings import open_scratch

        scratch = open_scratch()
        scratch.recorder.signer = self.signer()
        self._scratch.append(scratch)
        return scratch, lambda: self.app(create=True, checked=True)

    def run(self, op: Any) -> Any:
        """Apply one op and store its events; warnings go to stderr."""
        return self.run_as(op, self.actor)

    def run_as(self, op: Any, actor: str) -> Any:
        import click

        check, store = self.writer()
        if check is not self._app:
            check.run(op, actor)  # in the empty ledger in memory: refused here, nothing is created
        outcome = store().run(op, actor)
        for warning in outcome.warnings:
            click.echo(f"Warning: {warning}", err=True)
        return outcome

    def close(self) -> None:
        for app in [self._app, *self._scratch]:
            if app is not None:
                app.close()
                app.factory.close()
        for read_models in [self._read_models, *self._throwaway]:
            if read_models is not None:
                read_models.close()
