"""The report page: departments answer reminders from their phones (see portal.app)."""

from portal.app import create_app

__all__ = ["create_app"]
