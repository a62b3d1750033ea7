"""A registry of model builders by name: `register_model`, `build_model`, `list_models`.

Modelled on torchvision's ``models/_api.py`` and timm's registry: a name maps to a function that
returns a `keras.Model`; registering a name twice is an error, and asking for an unknown name
lists the close matches.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import keras

_MODELS: dict[str, Callable[..., keras.Model]] = {}


def register_model(
    name: str | Callable | None = None,
) -> Callable[[Callable[..., keras.Model]], Callable[..., keras.Model]]:
    """Register a model builder under a name (the function's own name by default).

    Args:
        name: the registry name. Defaults to the decorated function's ``__name__``.

    Returns:
        A decorator that registers the function and returns it unchanged.

    Raises:
        ValueError: when the name is already registered.

    Example:
        ```python
        @kcnn.register_model("tiny_cnn")
        def tiny_cnn(num_classes=10, input_shape=(28, 28, 1), **kwargs):
            ...
        model = kcnn.build_model("tiny_cnn")
        ```
    """
    if callable(name):  # used as a bare @register_model
        return register_model(None)(name)

    def decorator(fn: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        key = name or fn.__name__
        if not isinstance(key, str) or not key:
            raise ValueError(f"A model name must be a non-empty string. Received: name={key!r}")
        if key in _MODELS:
            raise ValueError(
                f"A model named {key!r} is already registered (by {_MODELS[key].__module__}."
                f"{_MODELS[key].__qualname__}). Pick another name."
            )
        _MODELS[key] = fn
        return fn

    return decorator


def register_variant(name: str, builder: Callable[..., keras.Model], doc: str, **fixed):
    """Register a thin entrypoint that calls ``builder`` with some arguments fixed.

    ``register_variant("resnet20", build_resnet, "ResNet-20 ...", depth=20)`` registers a
    function ``resnet20(**kwargs)`` that returns ``build_resnet(depth=20, **kwargs)``.

    Args:
        name: the registry name, also the entrypoint's ``__name__``.
        builder: the family's builder function.
        doc: the entrypoint's one-line docstring (shown by ``kcnn models``).
        **fixed: the arguments the variant fixes.

    Returns:
        The registered entrypoint.
    """

    def entrypoint(**kwargs) -> keras.Model:
        clash = sorted(set(kwargs) & set(fixed))
        if clash:
            raise TypeError(
                f"{name} fixes {', '.join(f'{k}={fixed[k]!r}' for k in clash)}; "
                f"call {builder.__name__}() to choose {', '.join(clash)}."
            )
        return builder(**fixed, **kwargs)

    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = builder.__module__
    entrypoint.__doc__ = doc
    return register_model(name)(entrypoint)


def list_models() -> list[str]:
    """The registered model names, sorted.

    Example:
        ```python
        >>> "resnet20" in kcnn.list_models()
        True
        ```
    """
    return sorted(_MODELS)


def get_model_builder(name: str) -> Callable[..., keras.Model]:
    """The builder function registered under ``name``.

    Raises:
        ValueError: for an unknown name, listing the close matches.
    """
    if name not in _MODELS:
        close = difflib.get_close_matches(str(name), list(_MODELS), n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown model name: {name!r}.{hint} Registered models: {', '.join(list_models())}."
        )
    return _MODELS[name]


def build_model(name: str, /, **kwargs: object) -> keras.Model:
    """Build a registered model by name.

    Args:
        name: a name from `list_models()`, e.g. ``"simple_cnn"`` or ``"resnet20"``
            (positional, so that ``name=`` can be passed on to the builder).
        **kwargs: passed to the builder (``num_classes``, ``input_shape``, ``include_top``,
            ``pooling``, ``activation``, and each family's own options).

    Returns:
        An uncompiled `keras.Model`.

    Raises:
        ValueError: for an unknown name (with close matches) or invalid builder arguments.

    Example:
        ```python
        model = kcnn.build_model("resnet20", num_classes=10, input_shape=(32, 32, 3))
        ```
    """
    return get_model_builder(name)(**kwargs)
