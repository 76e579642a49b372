"""Public objects name their public home: ``teamsim.sim.Simulation.__module__`` is
``"teamsim.sim"``, not the private file it is written in (as httpx does), so reprs, tracebacks,
pickles and the docs show the path users import from."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping

__all__ = ["public_home"]


def public_home(package: str, namespace: Mapping[str, object]) -> None:
    """Give every class and function that ``package`` exports (its ``__all__``) and defines in
    one of its private modules ``package`` as its ``__module__``.

    Call it at the end of the package's ``__init__``: ``public_home(__name__, globals())``.
    Objects defined elsewhere (re-exported from another package) are left alone.
    """
    private = package + "._"
    names = namespace.get("__all__", ())
    if not isinstance(names, list | tuple):
        raise TypeError(f"{package}.__all__ must be a list or tuple of names")
    for name in names:
        obj = namespace[name]
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if obj.__module__.startswith(private):
            if inspect.isclass(obj):
                _resolve_annotations(obj)
            obj.__module__ = package


def _resolve_annotations(cls: type) -> None:
    """Resolve a class's own string annotations (``from __future__ import annotations``) in
    the module that defines it, before ``__module__`` stops naming that module:
    ``typing.get_type_hints`` looks names up in ``sys.modules[cls.__module__]``. Annotations
    that name types imported only for type checking stay strings (they never resolved)."""
    own = inspect.get_annotations(cls)
    if not own or not any(isinstance(value, str) for value in own.values()):
        return
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except (NameError, TypeError):
        return
    cls.__annotations__ = {name: hints.get(name, value) for name, value in own.items()}
