"""A thin client of Outpost's REST API (`/api/v1/`), with the errors the CLI maps to exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from outpost_cli import __version__


class ApiError(Exception):
    """The server answered with an error status. `status` is 0 when it could not be reached."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{detail} (HTTP {status})" if status else detail)
        self.status = status
        self.detail = detail


class UnsupportedFormat(ApiError):
    """The server does not offer this export format (an older server): fall back to our own."""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(body, dict):
        detail = str(body.get("detail") or response.reason_phrase)
        errors = body.get("errors")
        if isinstance(errors, dict) and errors:
            parts = [
                f"{field}: {'; '.join(map(str, msgs if isinstance(msgs, list) else [msgs]))}"
                for field, msgs in errors.items()
            ]
            detail = f"{detail} ({', '.join(parts)})"
        return detail
    return str(body)[:300]


class OutpostClient:
    """Calls the API with `Authorization: Bearer <key>`; every error becomes an ApiError."""

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float = 60.0) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1/",
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"outpost-cli/{__version__}",
            },
            timeout=timeout_s,
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"cannot reach Outpost at {self.http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError(response.status_code, _detail(response))
        if 300 <= response.status_code < 400:
            # A redirect on an API call means a wrong URL (http→https, a login page): say so.
            raise ApiError(
                response.status_code,
                f"redirected to {response.headers.get('Location', '?')}; check OUTPOST_URL",
            )
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                response.status_code, f"the server answered {path} with something other than JSON"
            ) from exc

    # --- scans ----------------------------------------------------------------------------
    def submit_image(self, image: str) -> dict[str, Any]:
        return self._json("POST", "scan/docker", json={"image": image})

    def start_scan(self, *, workflow: int, target_ids: list[int], dry_run: bool) -> dict[str, Any]:
        # Naming the targets is the consent the API asks for: they are authorized scope already.
        body = {
            "workflow": workflow,
            "targets": target_ids,
            "authorize_targets": True,
            "dry_run": dry_run,
        }
        return self._json("POST", "scans", json=body)

    def scan(self, scan_id: int) -> dict[str, Any]:
        return self._json("GET", f"scans/{scan_id}")

    def scan_table(self, scan_id: int) -> str:
        return self._request("GET", f"scans/{scan_id}", params={"format": "table"}).text

    def scan_sarif(self, scan_id: int) -> dict[str, Any]:
        """The server's own SARIF export; UnsupportedFormat when it has none."""
        try:
            return self._json("GET", f"scans/{scan_id}", params={"format": "sarif"})
        except ApiError as exc:
            if exc.status == 400:
                raise UnsupportedFormat(exc.status, exc.detail) from exc
            raise

    def findings(self, scan_id: int, *, page_size: int = 500) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = self._json(
                "GET", f"scans/{scan_id}/findings", params={"page": page, "page_size": page_size}
            )
            yield from body.get("results", [])
            if not body.get("next"):
                return
            page += 1

    def import_tools(self) -> list[dict[str, Any]]:
        """The tools whose reports the server imports (`GET scans/import/tools`)."""
        body = self._json("GET", "scans/import/tools")
        return list(body) if isinstance(body, list) else []

    def import_report(self, *, tool: str, path: Path, target: str, label: str) -> dict[str, Any]:
        data = {"tool": tool} if tool else {}
        if target:
            data["target"] = target
        if label:
            data["workflow"] = label
        with path.open("rb") as handle:
            return self._json(
                "POST",
                "scans/import",
                data=data,
                files={"file": (path.name, handle, "application/octet-stream")},
            )

    # --- targets --------------------------------------------------------------------------
    def resolve_target(self, value: str) -> int:
        """A target id given as a number, or the id of the target whose value is exactly `value`."""
        if value.isdigit():
            return int(value)
        body = self._json("GET", "targets", params={"search": value, "page_size": 500})
        rows = body.get("results", body) if isinstance(body, dict) else body
        matches = [
            row
            for row in rows
            if value in (row.get("value"), row.get("raw_value")) and not row.get("excluded")
        ]
        if not matches:
            raise ApiError(
                404, f"no authorized target {value!r} in this team (add it to the scope first)"
            )
        return int(matches[0]["id"])
