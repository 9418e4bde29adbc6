"""The emulator's local studio: read-only HTML pages of runs, jobs, pipelines and endpoints.

Server-rendered with Jinja2 (autoescape on), plain CSS, no JavaScript. The routes are in
:mod:`.routes`; the pages need no credential, like the studio links the provider emits.
"""
