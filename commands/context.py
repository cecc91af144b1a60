"""What every command shares: the settings, the application and the read models, built lazily."""

from __future__ import annotations

from typing import Any

from ledger.settings import Settings, open_ledger


class Context:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._app: Any = None
        self._read_models: Any = None
        self._throwaway: list[Any] = []

    def app(self, create: bool = False) -> Any:
        """The application; writers create the ledger, everyone else needs it to exist."""
        if self._app is None:
            self._app = open_ledger(self.settings, create=create)
        return self._app

    def read_models(self, as_of: str | None = None, recorded: list | None = None, catch_up: bool = True) -> Any:
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

    def run(self, op: Any) -> Any:
        return self.app(create=True).run(op, self.settings.actor)

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app.factory.close()
        for read_models in [self._read_models, *self._throwaway]:
            if read_models is not None:
                read_models.close()
