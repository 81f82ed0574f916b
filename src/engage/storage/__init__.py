"""Object storage: recordings and large exports kept outside the database. `port` is what the rest of Engage
uses; `open_store` (`factory`) picks the adapter (`local`, the embedded default, or `s3`) for a composition root
to wire once; `api` serves the local store's signed URLs."""

from .factory import open_store

__all__ = ["open_store"]
