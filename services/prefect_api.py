"""What the Prefect server knows about our deployments (``kvarboende doctor``)."""

from __future__ import annotations

import httpx


def read_deployments(api_url: str, names: list[str], timeout: float = 10.0) -> dict[str, list[str]]:
    """Deployment name -> its cron schedules, for the deployments with these names.

    Raises an httpx error when the API cannot be reached or refuses.
    """
    base = api_url.rstrip("/")
    with httpx.Client(timeout=timeout) as client:
        client.get(f"{base}/health").raise_for_status()
        response = client.post(
            f"{base}/deployments/filter",
            json={"deployments": {"name": {"any_": names}}, "limit": 200},
        )
        response.raise_for_status()
    found: dict[str, list[str]] = {}
    for deployment in response.json():
        crons = [
            s["schedule"]["cron"]
            for s in deployment.get("schedules") or []
            if s.get("active", True) and "cron" in (s.get("schedule") or {})
        ]
        found.setdefault(deployment["name"], []).extend(crons)
    return found
