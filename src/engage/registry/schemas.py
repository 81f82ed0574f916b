"""Wire format of /v1/compliance/registries, and the modes of a registry load."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from engage.core.schemas import ReadModel


class LoadMode(StrEnum):
    """How `engage registry import` changed a registry: added to it, or swapped it whole."""

    append = "append"
    # `replace` would shadow `str.replace`; the API string is still "replace".
    replace_ = "replace"


class RegistryStatus(ReadModel):
    jurisdiction: str = Field(examples=["AE"], description="ISO 3166-1 alpha-2")
    loaded_at: datetime = Field(description="When the registry was last loaded")
    count: int = Field(description="Numbers on the registry since that load")


class RegistryList(ReadModel):
    """The national do-not-call registries loaded on this platform, by jurisdiction. A jurisdiction that is
    absent was never loaded: the compliance check reports its registry step as `skipped`.

    Registries are platform data, the same for every tenant. There is no route that changes them: the
    operator loads them with `engage registry import JURISDICTION FILE [--replace]`."""

    items: list[RegistryStatus]
