"""Reference documentation generated from the code, so it cannot drift from it.

- :mod:`anomd.docgen.api_reference` renders ``docs/api.md`` from the OpenAPI document.
- :mod:`anomd.docgen.settings_reference` renders the settings table of
  ``docs/configuration.md`` from :class:`anomd.settings.Settings`.

``anomd docs api|config`` writes or checks them; the tests regenerate both in memory and
compare with the committed files.
"""
