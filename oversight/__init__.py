"""Core of the London policing oversight dashboard: settings, warehouse access and analysis.

The app and the command line use this package; it never imports ``pipelines``.
"""
