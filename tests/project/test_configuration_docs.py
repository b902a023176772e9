"""docs/configuration.md is the code's configuration, no more and no less.

Every setting a pydantic-settings class under src reads (env prefix + field name, or its alias) has a
row, with the field's default; every variable a row names is read: by a settings class, by a module
that reads the environment and spells the name, or by OpenTelemetry's SDK (``OTEL_*``, passed through).
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

import common
import eshop_cli
import order
import product

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "configuration.md"
PACKAGES = [common, product, order, eshop_cli]
HEADER = "| variable | default | meaning |"
OUR_PREFIXES = ("ESHOP_", "PRODUCT_", "ORDER_")
PASSED_THROUGH = "OTEL_"  # OpenTelemetry's SDK reads its own variables
VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _modules() -> list[tuple[str, Path]]:
    """Every module of ours (generated stubs and migration scripts left out: they read no settings)."""
    found = []
    for package in PACKAGES:
        base = Path(str(package.__file__)).resolve().parent
        for path in sorted(base.rglob("*.py")):
            parts = path.relative_to(base.parent).with_suffix("").parts
            if "generated" in parts or "migrations" in parts:
                continue
            found.append((".".join(p for p in parts if p != "__init__"), path))
    return found


def settings_classes() -> list[type[BaseSettings]]:
    """The settings classes the services and the CLI instantiate: those no other one extends."""
    classes: set[type[BaseSettings]] = set()
    for name, path in _modules():
        if "BaseSettings" in path.read_text() or "Settings)" in path.read_text():
            module = importlib.import_module(name)
            classes |= {
                value
                for value in vars(module).values()
                if isinstance(value, type) and issubclass(value, BaseSettings) and value is not BaseSettings
            }
    return sorted((c for c in classes if not any(o is not c and issubclass(o, c) for o in classes)), key=str)


def _env_names(settings: type[BaseSettings], field_name: str, field: FieldInfo) -> list[str]:
    alias = field.validation_alias or field.alias
    if isinstance(alias, str):
        return [alias.upper()]
    if isinstance(alias, AliasChoices):
        return [choice.upper() for choice in alias.choices if isinstance(choice, str)]
    return [f"{settings.model_config.get('env_prefix', '')}{field_name}".upper()]


def settings_variables() -> dict[str, object]:
    """Variable -> the default its field has."""
    return {
        name: field.default
        for settings in settings_classes()
        for field_name, field in settings.model_fields.items()
        for name in _env_names(settings, field_name, field)
    }


def spelled_by_environment_readers() -> set[str]:
    """Names of ours spelled as a string in a module that reads the environment (``os.environ``)."""
    spelled: set[str] = set()
    for _, path in _modules():
        source = path.read_text()
        if "os.environ" not in source and "getenv" not in source:
            continue
        spelled |= {
            node.value
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and VARIABLE.match(node.value)
            and node.value.startswith((*OUR_PREFIXES, PASSED_THROUGH))
        }
    return spelled


def _expanded(name: str) -> list[str]:
    """``{PRODUCT,ORDER}_X`` -> ``PRODUCT_X``, ``ORDER_X``."""
    match = re.fullmatch(r"\{([A-Z,]+)\}(.*)", name)
    return [f"{head}{match[2]}" for head in match[1].split(",")] if match else [name]


def documented(text: str) -> dict[str, str]:
    """Variable -> its documented default, from the rows of every variable table of the page."""
    rows: dict[str, str] = {}
    for table in text.split(HEADER)[1:]:
        for line in table.strip().splitlines()[1:]:
            if not line.startswith("|"):
                break
            names, default = (cell.strip() for cell in line.strip("|").split("|")[:2])
            for name in re.findall(r"`([^`]+)`", names):
                for variable in _expanded(name):
                    assert variable not in rows, f"{variable} has two rows"
                    rows[variable] = default.strip("`")
    return rows


NOTHING = ("unset", "empty")  # how the page writes a default of None, "" or an empty collection


def shown(default: object) -> str:
    """A field's default as the page writes it."""
    if default is None or default in ("", frozenset(), (), []):
        return NOTHING[0]
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


def _agrees(documented: str, default: object) -> bool:
    expected = shown(default)
    return documented == expected or (expected == NOTHING[0] and documented in NOTHING)


def test_every_setting_is_documented_with_its_default() -> None:
    rows = documented(PAGE.read_text())
    defaults = settings_variables()

    missing = sorted(defaults.keys() - rows.keys())
    assert missing == [], f"settings without a row in docs/configuration.md: {missing}"
    wrong = {name: (rows[name], shown(d)) for name, d in defaults.items() if not _agrees(rows[name], d)}
    assert wrong == {}, "documented default != the field's default (documented, code)"


def test_every_documented_variable_is_read() -> None:
    readers = settings_variables().keys() | spelled_by_environment_readers()
    unread = sorted(
        name
        for name in documented(PAGE.read_text())
        if name not in readers and not (name.startswith(PASSED_THROUGH) and VARIABLE.match(name.rstrip("*")))
    )
    assert unread == [], f"docs/configuration.md documents variables nothing reads: {unread}"


def test_every_variable_the_code_reads_from_the_environment_is_documented() -> None:
    rows = documented(PAGE.read_text())
    ours = {name for name in spelled_by_environment_readers() if name.startswith(OUR_PREFIXES)}
    assert sorted(ours - rows.keys()) == []


def test_the_settings_walk_sees_both_services_and_the_logs() -> None:
    # Guards the tests above against passing vacuously (a wrong root or filter finds nothing).
    names = settings_variables()
    assert {"PRODUCT_DATABASE_URL", "ORDER_PRODUCT_SERVICE_TARGET", "ESHOP_LOG_LEVEL"} <= names.keys()
    assert {"ESHOP_TOKEN", "ESHOP_CLI_TLS_CA_FILE"} <= spelled_by_environment_readers()
