"""Model versions and per-item scores arrive with the active-learning engine.

The ranking will live here, in its own table keyed by model version, not on annotation.Item:
see annotation.models.Item for why.
"""
