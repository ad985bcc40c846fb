"""What a pass did, per source and overall: what the command line prints, the commit
message says and ``status``/webhooks judge health by."""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import ItemError
from .watch import WatchReport


@dataclass(slots=True)
class SourceReport:
    """What one source's pass did."""

    id: str
    name: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    not_modified: bool = False
    error: str | None = None
    item_errors: list[ItemError] = field(default_factory=list)
    skipped_until: int | None = None  # not due yet (Retry-After, max-age or backoff)
    newly_failing: bool = False


@dataclass(slots=True)
class RotateReport:
    """What a rotation (or an ordinary pass's settling) did."""

    placed: dict[str, int] = field(default_factory=dict)  # period -> articles newly assigned
    settled: dict[str, int] = field(default_factory=dict)  # period -> files moved there
    removed: int = 0  # files removed from the archive (articles and pictures)
    commits: dict[str, str] = field(default_factory=dict)  # period -> commit made there
    pushed: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # period -> why it is not done


@dataclass(slots=True)
class UpdateReport:
    """What the whole pass did."""

    sources: list[SourceReport] = field(default_factory=list)
    commit: str | None = None
    pushed: list[str] = field(default_factory=list)
    publish_errors: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    rerendered: int = 0  # files rendered again: links now resolvable, images now copied
    published: int = 0  # files written by the publisher for what workers recorded
    watch: WatchReport | None = None  # what re-checks of archived articles found
    rotation: RotateReport | None = None  # edits of rotated articles moved to their period

    @property
    def new(self) -> int:
        """New articles across sources."""
        return sum(s.new for s in self.sources)

    @property
    def updated(self) -> int:
        """Rewritten (edited) articles across sources."""
        return sum(s.updated for s in self.sources)

    @property
    def failed(self) -> list[SourceReport]:
        """Sources whose fetch or parse failed."""
        return [s for s in self.sources if s.error]

    def commit_message(self) -> str:
        """``N new, M updated`` overall, then one line per source that changed."""
        lines = [f"Update: {self.new} new, {self.updated} updated", ""]
        for s in self.sources:
            if s.new or s.updated:
                lines.append(f"{s.id} ({s.name}): {s.new} new, {s.updated} updated")
        if self.rerendered:
            lines.append(f"{self.rerendered} articles relinked (mirrored links, image copies)")
        w = self.watch
        if w is not None and (w.edits or w.removals or w.restorations):
            lines.append(
                f"Re-checked {w.checked}: {w.edits} edited, {w.removals} removed, "
                f"{w.restorations} restored"
            )
        return "\n".join(lines).rstrip() + "\n"
