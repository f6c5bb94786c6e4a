"""The pure ML core: featurizers, estimators, query strategies and stopping rules.

numpy, scipy and scikit-learn only; no Django (a test enforces it), so each piece is tested
and benchmarked alone and the services do the database work around it.
"""
