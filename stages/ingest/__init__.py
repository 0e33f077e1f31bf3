"""Ingest: a dataset scene -> ``scenes/<id>/points/`` (xyz, rgb, normal, label).

``config`` holds the settings (import-light: the run config imports it); ``stage`` the stage.
"""
