"""Health: what ``status`` exits non-zero for, and the failure webhook.

Pure checks over catalog states (the clock comes in as an argument), plus one small I/O
edge: the POST to the operator's webhook, which is trusted configuration (it may well be an
internal address) and so goes out with plain httpx, not through the feed fetcher's guard.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx

from . import __version__
from .config import Settings
from .errors import reason
from .model import clamp_ms, printable
from .report import UpdateReport
from .store.rows import SourceState

log = logging.getLogger(__name__)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(clamp_ms(ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def problems(settings: Settings, states: Sequence[SourceState], now_ms: int) -> list[str]:
    """Why the mirror is unhealthy (empty when it is fine)."""
    out = []
    enabled = {s.id for s in settings.sources if s.enabled}
    limit_ms = int(settings.health.max_failing * 1000)
    for st in states:
        if st.id in enabled and st.failing_since_ms and now_ms - st.failing_since_ms > limit_ms:
            out.append(
                f"{st.id} has been failing since {_when(st.failing_since_ms)} "
                f"({st.failures} attempts): {st.last_error}"
            )
    ours = [st for st in states if st.id in enabled]
    last_new = max((st.last_changed_ms or 0 for st in ours), default=0)
    first_try = min((st.last_attempt_ms for st in ours if st.last_attempt_ms), default=None)
    silence_ms = int(settings.health.max_silence * 1000)
    since = last_new or first_try
    if since and now_ms - since > silence_ms:
        what = f"since {_when(last_new)}" if last_new else "ever"
        out.append(f"nothing new was archived {what}")
    return out


def _inert(text: str) -> str:
    """Error text from outside as chat services show it, not as they act on it: Slack and
    Mattermost read ``<!channel>`` as a mention and ``<url|label>`` as a link, and want
    ``&``, ``<`` and ``>`` escaped; control characters go."""
    return printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def notify(settings: Settings, report: UpdateReport) -> None:
    """POST the sources that started failing in this pass to the webhook, if one is set."""
    url = settings.health.webhook
    started = [s for s in report.sources if s.error and s.newly_failing]
    if not url or not (started or report.publish_errors):
        return
    payload = {
        "text": "newsmirror: "
        + "; ".join(
            [f"{s.id} failing: {_inert(s.error or '')}" for s in started]
            + [f"publish {k}: {_inert(v)}" for k, v in report.publish_errors.items()]
        ),
        "failing": [{"source": s.id, "name": s.name, "error": s.error} for s in started],
        "publish_errors": report.publish_errors,
        "archive": str(settings.archive.path),
    }
    try:
        r = httpx.post(
            url,
            content=json.dumps(payload, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json", "User-Agent": f"newsmirror/{__version__}"},
            timeout=15.0,
            trust_env=False,
        )
        r.raise_for_status()
    except Exception as e:  # a failing webhook never fails the pass
        log.error("webhook %s failed: %s", url, reason(e))
