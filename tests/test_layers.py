"""Import direction: data flows api/console/cli → services → store, and nothing imports upwards.

Every module of app/ is read with `ast` (no import runs) and each of its imports of another
app module is checked against the layers below. A module may import from its own group or
from a lower layer; never from a higher layer, nor from another group of its own layer.
"""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

# Lowest first: each layer is a list of groups, each group a tuple of module prefixes (a prefix
# names the module itself and everything under it; a module belongs to its longest prefix).
# The groups of one layer are peers, which may not import each other.
LAYERS = (
    # The request and sync run a log line belongs to (context variables, no imports): the
    # lowest layer, so the services can say which run they are in without reading flask.
    ("context", [("app.context",)]),
    # Which release this code is: the store records it with each upgrade step it takes.
    ("release", [("app.version",)]),
    ("store", [("app.store",)]),
    ("schemas", [("app.schemas",)]),
    # Console users, API keys, the audit log and the per-key request limit: any service may
    # record an audit entry.
    ("accounts", [("app.accounts",)]),
    # The domain services: plain arguments in, plain data out.
    ("services", [("app.ingest",), ("app.sync",), ("app.privacy",)]),
    # Flask glue: settings, extension objects, JSON bodies, the error handlers, and the
    # scheduler (the one sync module that reads the app and its extensions).
    ("wiring", [("app.config", "app.logging", "app.http", "app.errors", "app.extensions",
                 "app.sync.scheduling")]),
    ("interfaces", [("app.api",), ("app.console",), ("app.cli",)]),
    ("factory", [("app",)]),
)
RANK = {prefix: rank for rank, (_name, groups) in enumerate(LAYERS)
        for group in groups for prefix in group}
GROUP = {prefix: group[0] for _name, groups in LAYERS for group in groups for prefix in group}


def module_name(path):
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(path): path for path in sorted(APP.rglob("*.py"))}


def group_of(module):
    """The layer prefix a module belongs to (the factory prefix names app/__init__ only)."""
    if module == "app":
        return "app"
    best = None
    for prefix in RANK:
        if prefix != "app" and (module == prefix or module.startswith(prefix + ".")):
            if best is None or len(prefix) > len(best):
                best = prefix
    return best


def imported(module, path, known):
    """(line, imported app module) for every import of an app module in the file."""
    is_package = path.name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "app" or alias.name.startswith("app."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target != "app" and not target.startswith("app."):
                continue
            for alias in node.names:
                # `from . import audit` imports the module app.accounts.audit.
                sub = f"{target}.{alias.name}"
                yield node.lineno, sub if sub in known else target


def violations(found_modules):
    found = []
    for module, path in found_modules.items():
        own = group_of(module)
        for line, target in imported(module, path, found_modules):
            theirs = group_of(target)
            if theirs is None or GROUP[theirs] == GROUP[own]:
                continue
            if RANK[theirs] > RANK[own]:
                found.append(f"{module}:{line} imports {target} (a layer above)")
            elif RANK[theirs] == RANK[own]:
                found.append(f"{module}:{line} imports {target} (a peer: {theirs})")
    return sorted(set(found))


def flask_imports(path):
    """Lines importing flask itself (its app, request and context globals)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                 else [])
        for name in names:
            if name == "flask" or name.startswith("flask."):
                yield node.lineno


def test_services_are_given_what_they_need_rather_than_reading_flask():
    """Below the wiring, nothing imports flask: no current_app, request or g in a service."""
    below = [module for module in modules() if RANK[group_of(module)] < RANK["app.extensions"]]
    found = [f"{module}:{line}" for module in below for line in flask_imports(modules()[module])]
    assert below and found == []


def test_every_module_has_a_layer():
    unplaced = [module for module in modules() if group_of(module) is None]
    assert unplaced == []


def test_nothing_imports_upwards_or_sideways():
    assert violations(modules()) == []


@pytest.mark.parametrize(("module", "source", "why"), [
    ("app.store.sqlite.ingest", "from ...ingest.validate import bad_keys\n", "above"),
    ("app.schemas.sync", "from ..extensions import store\n", "above"),
    ("app.sync.conflicts", "from ..ingest.validate import bad_keys\n", "peer"),
    ("app.extensions", "from .api.ratelimit import RateLimiter\n", "above"),
    ("app.sync.jobs", "from ..extensions import scheduler\n", "above"),
    ("app.cli", "from .console.auth import actor\n", "peer"),
    ("app.accounts.users", "import app.console.auth\n", "above"),
])
def test_the_walk_sees_a_wrong_import(tmp_path, module, source, why):
    """The checker itself: each kind of wrong import, placed in a module, is reported."""
    path = tmp_path / "module.py"
    path.write_text(source)
    found = [entry for entry in violations({**modules(), module: path})
             if entry.startswith(f"{module}:")]
    assert found and all(why in entry for entry in found), found
