"""The render functions, one module per family; importing this package registers them all.

Every function is ``name(context, seriesList, ...)`` -> list of ``Series`` and
is declared with ``torus.graphite.registry.function``; none reads storage.
"""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module("%s.%s" % (__name__, _module.name))
