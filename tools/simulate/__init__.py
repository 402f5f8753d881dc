"""Simulation of the plan year: python -m tools.simulate (see __main__.py)."""
