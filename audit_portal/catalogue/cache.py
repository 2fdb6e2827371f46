"""The catalogue kept in memory per catalogue version, so pages stop reloading it on every request.

The catalogue (controls, requirements, mappings) changes only when ``load_catalogue`` records a
:class:`CatalogueLoad`. Each read asks the database for the newest load (one indexed row), and
the cached values stay valid as long as that answer does not change; a new load, in this process
or another one sharing the database, changes it and the next read rebuilds.

Values are cached per database engine (the tests and the benches run several in one process)
and handed out as detached copies: a cached row is never attached to a session, so one
request's commit cannot expire it under another.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session

from audit_portal.catalogue import repository

T = TypeVar("T")


class CatalogueCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_engine: weakref.WeakKeyDictionary[Any, tuple[object, dict[object, Any]]] = weakref.WeakKeyDictionary()
        self._loaders: dict[object, Callable[[Session], Any]] = {}

    def register(self, key: object, load: Callable[[Session], Any]) -> None:
        """A value :meth:`warm` fills right after a catalogue load (the reader's module registers
        it at import), so the first request after a load does not pay for the rebuild."""
        self._loaders[key] = load

    def get_registered(self, session: Session, key: object) -> Any:
        return self.get(session, key, lambda: self._loaders[key](session))

    def warm(self, session: Session) -> None:
        """Fill every registered value for the catalogue as it now stands in ``session``."""
        session.flush()
        for key in list(self._loaders):
            self.get_registered(session, key)

    def get(self, session: Session, key: object, load: Callable[[], T]) -> T:
        """``load()``'s value for ``key`` under the current catalogue version."""
        engine = session.get_bind().engine
        version = repository.catalogue_version(session)
        with self._lock:
            entry = self._by_engine.get(engine)
            if entry is None or entry[0] != version:
                entry = (version, {})
                self._by_engine[engine] = entry
            values = entry[1]
            if key in values:
                return values[key]
        value = load()
        with self._lock:
            current = self._by_engine.get(engine)
            if current is not None and current[0] == version:
                current[1][key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._by_engine.clear()


catalogue_cache = CatalogueCache()
