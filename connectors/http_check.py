"""Whether an HTTP service (an SMS gateway, the Prefect API) answers at all."""

from __future__ import annotations

import httpx


def http_status(url: str, timeout: float = 5.0) -> int:
    """The HTTP status of a GET to ``url``; raises OSError-like httpx errors when unreachable."""
    response = httpx.get(url, timeout=timeout, follow_redirects=False)
    return response.status_code
