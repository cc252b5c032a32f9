"""The attack-surface inventory: what scans and imports discovered, browsable, with history.

`observe.py` (what the inventory reads from items: the contract of docs/inventory.md),
`recording.py` (the one bulk recording service, and a scan's conclusion: gone assets, open
finding counts), `writer.py` (its PostgreSQL path), `queries.py` (lists, filters, an asset's
relations and history, a scan's change set), `actions.py` (bulk "add as target" / "exclude"),
`exports.py` (CSV, JSON), the pages (`views.py`, `urls.py`) and the API (`api.py`).
"""
