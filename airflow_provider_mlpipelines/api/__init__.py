"""The wire contract in Python: route templates, status model and entity models.

This package is the single owner of URL paths and JSON field names. The hooks and the
emulator both build on it, so the client and the stand-in service cannot drift apart.
Nothing here performs I/O or imports anything heavy.
"""
