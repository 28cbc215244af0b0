"""Loading plugins from the ``anomd`` entry-point group, one at a time.

Each entry point is imported and registered on its own: a plugin that fails to import, that
implements a hook that does not exist, or whose hook raises, is recorded and reported while the
others still load (``strict=True`` turns any such failure into an error, for CI). Built-in
plugins go through exactly the same path as third-party ones.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import pluggy
from importlib_metadata import EntryPoint, entry_points

from anomd import hookspecs
from anomd.detectors import DetectorSpec
from anomd.errors import PluginError
from anomd.postprocessors import PostprocessorSpec
from anomd.registry import Registry
from anomd.storage import StorageSpec
from anomd.transforms import TransformSpec

ENTRY_POINT_GROUP = "anomd"


@dataclass(frozen=True)
class _Kind:
    """One registration hook: what it accepts, where it goes, how the report names it."""

    registry: str  # attribute of PluginHost
    spec: type
    key: str  # attribute of the spec that is its id
    label: str  # "detector:ecod" in a plugin's ``provides``


#: Every registration hook. What it accepts is checked when ``register`` is called, so the
#: error points at the plugin's own call.
_KINDS: dict[str, _Kind] = {
    "register_detectors": _Kind("detectors", DetectorSpec, "id", "detector"),
    "register_storage": _Kind("storage", StorageSpec, "scheme", "storage"),
    "register_transforms": _Kind("transforms", TransformSpec, "id", "transform"),
    "register_postprocessors": _Kind("postprocessors", PostprocessorSpec, "id", "postprocessor"),
}


@dataclass
class PluginRecord:
    """What happened to one plugin at start-up (the ``/v1/plugins`` report)."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    status: Literal["loaded", "failed", "blocked"]
    error: str | None = None
    provides: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``distribution version`` when known, else the plugin name."""
        if self.distribution:
            return f"{self.distribution} {self.version}".strip()
        return self.name


class PluginHost:
    """Owns the pluggy manager and the registries the plugins fill.

    Args:
        strict: Raise :class:`PluginError` on the first failing plugin instead of recording it.
        blocked: Entry-point or plugin names not to load.
        extra: Plugin objects (modules or instances) to register in addition to entry points,
            e.g. from tests or from an application embedding anomd.
        use_entry_points: Load the ``anomd`` entry-point group (default True).
    """

    def __init__(
        self,
        *,
        strict: bool = False,
        blocked: Iterable[str] = (),
        extra: Iterable[Any] = (),
        use_entry_points: bool = True,
    ) -> None:
        self.strict = strict
        self.blocked = set(blocked)
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.detectors: Registry[DetectorSpec] = Registry("detector")
        self.storage: Registry[StorageSpec] = Registry("storage backend")
        self.transforms: Registry[TransformSpec] = Registry("transform")
        self.postprocessors: Registry[PostprocessorSpec] = Registry("postprocessor")
        self._staged: dict[str, list[tuple[_Kind, Any]]] = {}
        if use_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                self._load_entry_point(ep)
        for obj in extra:
            name = getattr(obj, "__name__", None) or type(obj).__name__
            self._register(obj, PluginRecord(name, name, None, None, "loaded"))
        for hook in _KINDS:
            self._collect(hook)
        self._commit()

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = ep.dist
        record = PluginRecord(
            name=ep.name,
            module=ep.value,
            distribution=dist.name if dist else None,
            version=dist.version if dist else None,
            status="loaded",
        )
        if ep.name in self.blocked or (dist and dist.name in self.blocked):
            record.status = "blocked"
            self._file(record)
            return
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure is isolated and reported
            self._file(record)
            self._fail(record, f"import failed: {_summary(exc)}", exc)
            return
        self._register(plugin, record)

    def _file(self, record: PluginRecord) -> PluginRecord | None:
        """Files ``record`` in the report; returns the plugin already holding its name, if any.

        Two distributions may declare the same entry-point name. The second must not replace
        the first one's record (that would silently unload a working plugin), so it is filed
        under a distinct key (``name#2``) instead.
        """
        holder = self.records.get(record.name)
        if holder is not None:
            base, n = record.name, 2
            while f"{base}#{n}" in self.records:
                n += 1
            record.name = f"{base}#{n}"
        self.records[record.name] = record
        return holder

    def _register(self, plugin: Any, record: PluginRecord) -> None:
        holder = self._file(record)
        if holder is not None:
            message = (f"plugin name {holder.name!r} is already used by {holder.label}; "
                       "entry-point names must be unique (use the module path)")
            self._fail(record, message, ValueError(message))
            return
        try:
            self.pm.register(plugin, name=record.name)
            # Misspelt hook names are caught here rather than silently never called.
            for hook_caller in self.pm.get_hookcallers(plugin) or []:
                if hook_caller.spec is None:
                    raise pluggy.PluginValidationError(
                        plugin, f"unknown hook {hook_caller.name!r} (no such hook in anomd.hookspecs)"
                    )
            self.pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._fail(record, f"invalid plugin: {exc}", exc)

    def _collect(self, hook: str) -> None:
        """Calls one hook plugin by plugin, so each registration is attributed and isolated.

        Registrations are only staged here; :meth:`_commit` adds them once every hook has run,
        so a plugin whose hook raises half-way serves nothing, rather than being reported as
        failed while what it registered before the error is served.
        """
        kind = _KINDS[hook]
        expected = kind.spec
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            record = self.records[impl.plugin_name]
            if record.status != "loaded":
                continue
            staged = self._staged.setdefault(record.name, [])

            def register(item: Any, _staged: list = staged) -> None:
                if not isinstance(item, expected):
                    got = type(item).__name__
                    raise TypeError(f"{hook} expects {expected.__name__}, got {got}")
                _staged.append((kind, item))

            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as exc:  # noqa: BLE001 - a crashing hook is isolated and reported
                self._fail(record, f"hook {hook} failed: {_summary(exc)}", exc)

    def _commit(self) -> None:
        """Adds the staged registrations of every plugin whose hooks all succeeded.

        Raises:
            PluginError: Two plugins registered the same id; which one to serve is the
                operator's call, so start-up stops with both named.
        """
        for name, record in list(self.records.items()):  # load order: earlier plugins hold ids
            if record.status == "loaded":
                for kind, item in self._staged.get(name, ()):
                    key = getattr(item, kind.key)
                    getattr(self, kind.registry).add(key, item, record.label)
                    record.provides.append(f"{kind.label}:{key}")
        self._staged.clear()

    def _fail(self, record: PluginRecord, message: str, exc: BaseException) -> None:
        record.status = "failed"
        record.error = message
        if self.strict:
            raise PluginError(f"plugin {record.name!r} ({record.label}): {message}") from exc

    @property
    def failures(self) -> list[PluginRecord]:
        return [r for r in self.records.values() if r.status == "failed"]

    def report(self) -> list[PluginRecord]:
        return sorted(self.records.values(), key=lambda r: r.name)


def _summary(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"
