"""The Keycloak imitation: what a client of a real Keycloak sees.

Imports neither the test controls nor the serving layer (import-linter checks it).
"""
