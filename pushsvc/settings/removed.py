"""Settings that are no longer settings, and the one warning each gets when still set.

pydantic-settings ignores a variable no field reads, so an operator's
``PUSHSVC_JANITOR_RENEW_DEADLINE_SECONDS=8`` would silently stop meaning anything. Each
name here says what replaced it; ``init_app`` logs one line per name still set (pushsvc
serve, a user's app and gunicorn by hand alike), and ``unknown_env_warnings`` leaves them to
it. The derived values are read-only properties of ``Settings`` under the old names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Settings that only narrowed the classic protocol's semantics; now ignored.
RETIRED_SETTINGS = {
    "PUSHSVC_ALLOW_CLIENT_CLOSE_ROOM": "any client may close any room (close_room)",
    "PUSHSVC_ROOM_EVENT_MEMBERS_ONLY": "any client may send to any room (my_room_event)",
}

#: Settings derived from others or fixed since issue 22: name -> what replaces it.
REMOVED_SETTINGS = {
    "PUSHSVC_ENGINE":
        "removed: pushsvc's own Engine.IO server (pushsvc/engineio/) is the only one",
    "PUSHSVC_WATCH_READ_TIMEOUT_SECONDS":
        "derived: PUSHSVC_WATCH_TIMEOUT_SECONDS plus a tenth, at least 2 s (330 s by default)",
    "PUSHSVC_WATCH_BACKOFF_RESET_SECONDS":
        "derived: 2 x PUSHSVC_WATCH_BACKOFF_MAX_SECONDS (60 s by default)",
    "PUSHSVC_JANITOR_INTERVAL_SECONDS":
        "derived: PUSHSVC_RETENTION_SECONDS / 10 (30 s by default)",
    "PUSHSVC_JANITOR_LEASE_NAME":
        "fixed: the Lease is pushsvc-janitor, the one name rbac/api.yaml grants",
    "PUSHSVC_JANITOR_RENEW_DEADLINE_SECONDS":
        "derived: 2/3 of PUSHSVC_JANITOR_LEASE_DURATION_SECONDS (client-go's 10 s of 15 s)",
    "PUSHSVC_JANITOR_RETRY_PERIOD_SECONDS":
        "derived: 2/15 of PUSHSVC_JANITOR_LEASE_DURATION_SECONDS (client-go's 2 s of 15 s)",
    "PUSHSVC_CLIENT_RATE_LIMITED_DISCONNECT_AFTER":
        "derived: the larger of PUSHSVC_CLIENT_EVENTS_BURST and 5 s of "
        "PUSHSVC_CLIENT_EVENTS_PER_SECOND (100 by default)",
    "PUSHSVC_CLIENT_RATE_LIMITED_WINDOW_SECONDS": "fixed: 10 s",
    "PUSHSVC_PUBLISH_CLIENT_BURST_MESSAGES":
        "derived: 5 s of PUSHSVC_PUBLISH_CLIENT_MESSAGES_PER_SECOND (10 by default)",
    "PUSHSVC_PUBLISH_CLIENT_BURST_BYTES":
        "derived: 2 x PUSHSVC_MAX_MESSAGE_BYTES (128 KiB by default)",
    "PUSHSVC_PUBLISH_POD_BURST_MESSAGES":
        "derived: 5 s of PUSHSVC_PUBLISH_POD_MESSAGES_PER_SECOND (100 by default)",
    "PUSHSVC_PUBLISH_POD_BURST_BYTES":
        "derived: 8 x PUSHSVC_MAX_MESSAGE_BYTES (512 KiB by default)",
    "PUSHSVC_HANDSHAKE_BURST_PER_ADDRESS":
        "derived: 5 s of PUSHSVC_HANDSHAKES_PER_SECOND_PER_ADDRESS (100 by default)",
    "PUSHSVC_CONNECT_LOCKOUT_MAX_SECONDS":
        "derived: 30 x PUSHSVC_CONNECT_LOCKOUT_SECONDS (900 s by default)",
    "PUSHSVC_JWT_EXPIRY_SWEEP_SECONDS": "fixed: expired connections are swept every second",
    "PUSHSVC_PRESENCE_CLIENT_QUERIES_BURST":
        "derived: 5 s of PUSHSVC_PRESENCE_CLIENT_QUERIES_PER_SECOND (5 by default)",
    "PUSHSVC_RECOVERY_SNAPSHOT_REFRESHES_PER_SECOND":
        "derived: 4 x PUSHSVC_MAX_SESSIONS_TOTAL / PUSHSVC_RECOVERY_SNAPSHOT_INTERVAL_SECONDS "
        "(533/s by default)",
    "PUSHSVC_RECOVERY_SNAPSHOT_POD_BURST_BYTES":
        "derived: 8 s of PUSHSVC_RECOVERY_SNAPSHOT_POD_BYTES_PER_SECOND, at least "
        "PUSHSVC_RECOVERY_MAX_SNAPSHOT_BYTES (2 MiB by default)",
    "PUSHSVC_RECOVERY_FLUSH_SECONDS": "fixed: 0.05 s",
    "PUSHSVC_RECOVERY_HISTORY_MAX_PAGES": "fixed: 200 list pages",
    "PUSHSVC_RECOVERY_CATCH_UP_SECONDS": "fixed: 3 s",
}


def removed_env_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per retired or removed ``PUSHSVC_*`` variable set in ``environ``, saying
    what replaced it."""
    env = os.environ if environ is None else environ
    lines = [f"{name} is retired and ignored: {now}, bounded by the event rate and the "
             "publishing budgets" for name, now in RETIRED_SETTINGS.items() if name in env]
    lines += [f"{name} is no longer a setting and is ignored; now {now}"
              for name, now in REMOVED_SETTINGS.items() if name in env]
    return lines
