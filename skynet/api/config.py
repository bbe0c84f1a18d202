"""Application functions about the configuration."""

from __future__ import annotations

from typing import Any

from skynet.config import Settings, masked

__all__ = ["effective_config"]


def effective_config(settings: Settings) -> dict[str, Any]:
    """The effective configuration as a dict, paths expanded and passwords masked."""
    data = settings.as_dict()
    return {
        "source": settings.source,
        **{
            section: {key: masked(settings.path(v) if isinstance(v, str) else v) for key, v in values.items()}
            for section, values in data.items()
        },
    }
