"""The type x engine matrix: every engine has one layout per type, and no engine decides by
comparing type names (a new type or a new layout is added in one place)."""
import ast
import pathlib

import pytest

import kairos.backends
from kairos.backends import cassandra_layouts, mongo_layouts, redis_layouts, sql_layouts
from kairos.exceptions import ConfigError
from kairos.types import TYPES

BACKENDS = pathlib.Path(kairos.backends.__file__).parent
#: each engine's layouts module and the arguments its ``layout_for`` takes after the type
ENGINES = {
    "redis": (redis_layouts, ()),
    "sql": (sql_layouts, ()),
    "cassandra": (cassandra_layouts, ("double", float)),
    "mongo": (mongo_layouts, ()),
}


def _type_names(node, constants):
    """Type names a comparison operand spells: a literal, a literal collection of them, or a
    module-level constant holding such a collection."""
    if isinstance(node, ast.Constant) and node.value in TYPES:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [name for element in node.elts for name in _type_names(element, constants)]
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    return []


def _asks_for_type(node):
    """Whether an operand is the timeseries' type itself (``self.type``, ``type_name``)."""
    return (isinstance(node, ast.Attribute) and node.attr in ("type", "type_name")
            and isinstance(node.value, ast.Name) and node.value.id == "self") or \
        (isinstance(node, ast.Name) and node.id == "type_name")


def type_decisions(source):
    """``(line, text)`` of every place a module decides by type name."""
    tree = ast.parse(source)
    constants = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            names = _type_names(statement.value, {})
            if names and isinstance(statement.value, (ast.Tuple, ast.List, ast.Set)):
                constants[statement.targets[0].id] = names
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_type_names(o, constants) or _asks_for_type(o) for o in operands):
                found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Subscript) and _asks_for_type(node.slice) \
                and not (isinstance(node.value, ast.Name) and node.value.id == "LAYOUTS"):
            found.append((node.lineno, ast.unparse(node)))  # a per-type table besides LAYOUTS
    return found


@pytest.mark.parametrize("snippet", [
    'if self.type == "count":\n    pass',
    'x = kind in ("count", "gauge")',
    'x = "histogram" != type_name',
    'COUNTERS = ("count", "histogram")\nx = kind not in COUNTERS',
    'x = self.type is HISTOGRAM',
    'read = READERS[self.type]',
])
def test_the_check_finds_type_decisions(snippet):
    assert type_decisions(snippet)


def test_other_comparisons_are_not_type_decisions():
    assert not type_decisions('x = kind == name_index.TAGGED\ny = op == "L"\nz = layout.scalar')


@pytest.mark.parametrize("path", sorted(BACKENDS.glob("*.py")), ids=lambda p: p.name)
def test_no_engine_module_compares_type_names(path):
    assert type_decisions(path.read_text()) == [], \
        "%s decides by type name: move it into the type's layout" % path.name


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_has_one_layout_per_type(engine):
    module, args = ENGINES[engine]
    assert set(module.LAYOUTS) == set(TYPES)
    for type_name in TYPES:
        layout = module.layout_for(type_name, *args)
        assert layout.type_name == type_name
        assert type(layout) is module.LAYOUTS[type_name]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_unknown_type_has_no_layout(engine):
    module, args = ENGINES[engine]
    with pytest.raises(ConfigError, match="layout for type 'bloom'"):
        module.layout_for("bloom", *args)
