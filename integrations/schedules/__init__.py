"""Scheduled scans: a ScanSchedule (workflow, targets, cron or every N hours, consent) owns one
django-q2 Schedule that starts the scan through scans.services.scan_start."""
