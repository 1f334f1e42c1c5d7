"""Reusable policy components: observation shims, encoders, memories and heads.

Each component is one concept, sized by explicit arguments, shape-checked once at construction.
"""
