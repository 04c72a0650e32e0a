"""The torus exception tree: CLIs print these as one line, the HTTP layer as JSON errors."""


class TorusError(Exception):
    """Base of every error torus raises on purpose."""


class ConfigError(TorusError):
    """A configuration module failed to load or holds an invalid setting."""


class BadRequest(TorusError):
    """A client sent an invalid parameter (HTTP 400)."""

    status = 400


class NotFound(TorusError):
    """A command, schema or interval that does not exist (HTTP 404)."""

    status = 404


class Forbidden(TorusError):
    """A request the configuration does not allow from where it comes (HTTP 403)."""

    status = 403
