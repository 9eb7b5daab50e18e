"""Jinja email templates, each a .txt (which declares the subject) and .html pair over a layout."""
