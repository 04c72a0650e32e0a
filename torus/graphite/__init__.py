"""graphite-web's HTTP API over torus schemas, so Grafana's Graphite data source works unmodified.

The package is pure where it can be: ``grammar`` parses a ``target``,
``evaluator`` walks it, ``functions`` holds the render functions (a function
takes series lists and returns a series list; nothing there reads storage),
``series`` is the value list they pass around. The endpoints (``render``,
``metrics_api``, ``tags_api``, ``catalogue``) read storage through the schemas
of the configuration serving the request and are routed by ``routes``.
graphite-web 1.1 is the reference for names, arguments and answers; it is the
oracle of the tests, never a dependency.
"""
