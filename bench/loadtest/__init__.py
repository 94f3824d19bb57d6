"""The pieces of ``bench/load.py`` (the command), one concern per module.

``servers`` (the database, Redis, migrate, gunicorn), ``shoppers`` (the virtual users and
their mix), ``consistency`` (the database check after the run), ``profiling`` (py-spy's
stacks per layer). ``bench/load.py`` runs the load and prints the report.
"""
