"""The serving layer shared by ``/metrics`` and the callback listener (see docs/web.md).

* ``serve``: hypercorn (h11) on a thread with its own event loop; ``connection``: the bounds
  hypercorn lacks (whole-head deadline, write timeout, connection cap, TLS SAN check);
* ``guard``: what h11 leaves to the application; ``auth``: rate limit, headers, basic auth;
* ``config``: the exporter-toolkit web config YAML; ``source``: the file in use, reloaded and
  kept at its last good version (fail closed); ``tls``: its ``tls_server_config`` as an
  ``ssl.SSLContext``; ``asgi``: types and helpers.
"""
