"""Artwork personalization: pick each title's thumbnail per person and moment, learn online."""

__version__ = "0.1.0"
