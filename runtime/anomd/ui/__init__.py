"""The operator dashboard at ``/ui`` and the offline API docs at ``/schema``.

- :mod:`anomd.ui.live`: the live feed the stream route publishes into (rings of recent points,
  watchers woken without ever blocking the publisher).
- :mod:`anomd.ui.ring`: one stream's recent points in fixed-size numpy arrays.
- :mod:`anomd.ui.figures`: the server's key figures and the stream list, as the page shows them.
- :mod:`anomd.ui.routes`: the page, its static assets and its few data routes (the live chart's
  Server-Sent Events, a stream list, key figures); everything else the page shows comes from
  the public API.
- :mod:`anomd.ui.exposure`: when the dashboard is served at all.
- :mod:`anomd.ui.schema_page`: ``/schema`` rendered by a vendored Redoc, no CDN.
- ``static/``: the page (plain HTML, CSS and JavaScript, no build step) and ``vendor/`` with
  uPlot and Redoc as published (one line of Redoc changed, see its README), each with its
  licence.
"""
