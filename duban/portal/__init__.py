"""The report page: departments answer reminders from their phones (see duban.portal.app)."""

from duban.portal.app import create_app

__all__ = ["create_app"]
