"""Which repository each archive file is in, for links between them (a rotated archive).

Bodies keep archive references (``model.ARCHIVE_REF``) to other articles and to image
copies; rendering makes them relative to the file.  Once old articles have moved to period
repositories (``rotate.py``) a relative link works only inside one repository: a link from
one repository to another becomes the target's absolute URL there.  Image copies travel
with their articles, so they are always in the linking file's repository, unless they
live in a repository of their own (``[images] repository``): then every picture is an
absolute link to it.
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import Settings
from .render.markdown import away_url
from .store.catalog import Catalog
from .store.rotation import Homes


class Placement:
    """Answers ``away(target, origin)`` (see ``render.markdown.Away``) from the catalog;
    one instance per batch of renderings (it caches what it asked)."""

    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.rotate = settings.rotate
        # Image copies in a repository of their own: always an absolute link.
        self.images = settings.images.repository_url if settings.images.repository else ""
        self.homes = Homes(catalog)
        self.known: dict[str, str | None] = {}

    def assume(self, homes: Mapping[str, str | None]) -> None:
        """Take these paths as living in these homes (a move being prepared)."""
        self.known.update(homes)

    def home(self, path: str) -> str | None:
        """The period holding ``path`` (None: the archive itself, or a new file)."""
        if path not in self.known:
            self.known.update(self.homes.of_paths([path]))
            self.known.setdefault(path, None)
        return self.known[path]

    def away(self, target: str, origin: str) -> str | None:
        """The absolute URL of ``target`` when it is not in ``origin``'s repository."""
        if not target.startswith("articles/"):
            if self.images and target.startswith("assets/"):
                return away_url(self.images, target)
            return None
        if not self.rotate.enabled:
            return None
        there = self.home(target)
        if there == self.home(origin):
            return None
        return away_url(self.rotate.url_of(there), target)
