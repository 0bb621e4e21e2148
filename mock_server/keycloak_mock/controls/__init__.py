"""Test controls: faults, users, the clock, the request log, and the HTTP API that exposes them.

Built on the imitation; never imports the serving layer.  Kept free of imports here so that the
remote controls load no web framework.
"""
