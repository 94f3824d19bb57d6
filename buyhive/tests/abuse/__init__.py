"""Abuse cases of the security review (issue 13), one module per finding.

``buyhive/tests/test_abuse.py`` holds the cases that held from the start (ownership matrix,
mass assignment, rate limits, body limits, CORS); this package holds each finding that did
not hold, with a test that fails when its fix is removed.
"""
