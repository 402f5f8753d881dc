"""Operational tools outside the installed product: the failure drill, the year simulation."""
