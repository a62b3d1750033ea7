"""Packages whose names load on first use, so that ``kcnn --help`` imports no Keras.

``lazy_package(__name__, {"fit": "kcnn.train.fit:fit", "data": "kcnn.data"})`` turns a
package into one whose exported names are imported when first read (PEP 562), the way
SciPy's and scikit-image's subpackages load. ``"module:name"`` exports an attribute,
``"module"`` a module.

One trap is handled here: when a submodule has the name of a function the package exports
(``kcnn.train.fit`` the module, ``kcnn.train.fit`` the function), the import system sets
the package's attribute to the submodule the first time the submodule is imported. The
package keeps the exported function instead, as an eager ``from .fit import fit`` would.
"""

from __future__ import annotations

import importlib
import sys
import types


class LazyPackage(types.ModuleType):
    """A package module whose exports (``_lazy_exports``) load on first access."""

    _lazy_exports: dict[str, str]

    def __getattr__(self, name: str):
        target = self.__dict__.get("_lazy_exports", {}).get(name)
        if target is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = _resolve(target)
        super().__setattr__(name, value)
        hook = self.__dict__.pop("_lazy_first_use", None)
        if hook is not None:
            hook()
        return value

    def __setattr__(self, name: str, value) -> None:
        target = self.__dict__.get("_lazy_exports", {}).get(name, "")
        module, _, attribute = target.partition(":")
        if attribute and isinstance(value, types.ModuleType) and value.__name__ == module:
            value = getattr(value, attribute)  # the import system setting the submodule
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._lazy_exports))


def _resolve(target: str):
    module, _, attribute = target.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def lazy_package(name: str, exports: dict[str, str], on_first_use=None) -> None:
    """Make the package ``name`` (call with ``__name__`` from its ``__init__``) resolve
    ``exports`` on first access, and call ``on_first_use()`` once after the first."""
    package = sys.modules[name]
    package.__class__ = LazyPackage
    package._lazy_exports = dict(exports)
    if on_first_use is not None:
        package._lazy_first_use = on_first_use


def load_all(name: str) -> None:
    """Resolve every export of the lazy package ``name`` and, recursively, of the lazy
    packages among them: everything they define is imported (and so registered)."""
    package = sys.modules[name]
    for export in list(getattr(package, "_lazy_exports", {})):
        value = getattr(package, export)
        if isinstance(value, LazyPackage):
            load_all(value.__name__)
