"""Signals of the scans app, for the apps above it (integrations) to act on.

- `scan_finished(scan_id)`: a scan reached a final state (notifications, reports).
- `findings_assigned(team_id, fingerprints, assignee_id, user_id)`: findings were assigned to a
  team member by someone else (the assignee is told).
- `acceptance_requested(team_id, fingerprints, user_id)`: an analyst asked to accept critical or
  high findings; the team's owners are asked to approve.
- `acceptances_expired(team_id, fingerprints, user_ids)`: accepted findings reopened because their
  acceptance ended (the team, the people who asked for and approved them, and their assignees
  are told).

All are sent after the transaction that made the change commits.
"""

from __future__ import annotations

from django.dispatch import Signal

scan_finished = Signal()
findings_assigned = Signal()
acceptance_requested = Signal()
acceptances_expired = Signal()
