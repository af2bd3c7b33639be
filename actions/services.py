"""The backend services the actions use: installed by `creditbot actions`, or built once from the environment.

rasa-sdk's `ActionExecutor` instantiates every action with no arguments, so each action falls back to
`get_services()`; tests and the `creditbot actions` entry point pass or install their own bundle.
"""

from __future__ import annotations

from backend.services import Services, build_services
from backend.settings import Settings

_installed: Services | None = None


def install(services: Services) -> None:
    """Makes `services` the bundle every action without its own uses (the entry point calls this)."""
    global _installed
    _installed = services


def get_services() -> Services:
    """The installed bundle; under `rasa run actions` it is built from the environment on first use."""
    global _installed
    if _installed is None:
        _installed = build_services(Settings.from_env())
    return _installed


def uninstall() -> Services | None:
    """Forgets the bundle (the caller closes it) and returns it."""
    global _installed
    services, _installed = _installed, None
    return services
