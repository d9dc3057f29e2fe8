"""Profiles and overrides: the seed's tuning table, the environment, DEBUG namespaces."""

import logging

import pytest

from app.config import load_config


@pytest.mark.parametrize("profile, expected", [
    ("development", (1, 50, 500, 3)),
    ("production", (5, 200, 2000, 5)),
])
def test_profiles_carry_the_tuning_table(profile, expected):
    env = {"APP_ENV": profile, "SECRET_KEY": "s"}
    config = load_config(environ=env)
    got = (config["SYNC_INTERVAL_MINUTES"], config["SYNC_BATCH_SIZE"],
           config["SYNC_MAX_QUEUE"], config["SYNC_MAX_RETRIES"])
    assert got == expected


def test_environment_overrides_every_value():
    config = load_config(environ={"APP_ENV": "production", "SECRET_KEY": "s",
                                  "SYNC_BATCH_SIZE": "77", "ENABLE_SCHEDULED_SYNC": "false",
                                  "CONFLICT_STRATEGIES": '{"user_settings": "client_wins"}'})
    assert config["SYNC_BATCH_SIZE"] == 77
    assert config["ENABLE_SCHEDULED_SYNC"] is False
    assert config["CONFLICT_STRATEGIES"] == {"user_settings": "client_wins"}


def test_production_needs_a_secret_key():
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_config(environ={"APP_ENV": "production"})


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="APP_ENV"):
        load_config(environ={"APP_ENV": "staging"})


def test_debug_namespaces_turn_on_verbose_logging(tmp_path):
    from tests.conftest import make_app

    make_app(tmp_path, DEBUG_NAMESPACES="prepmate:sync")
    assert logging.getLogger("prepmate.sync").level == logging.DEBUG
    assert logging.getLogger("prepmate.api").level != logging.DEBUG
    make_app(tmp_path, DEBUG_NAMESPACES="prepmate:*")
    assert logging.getLogger("prepmate.api").level == logging.DEBUG
    for name in ("prepmate.sync", "prepmate.api", "prepmate.store", "prepmate.console",
                 "prepmate.scheduler"):
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.mark.parametrize("profile, expected", [
    ("development", True), ("testing", True), ("production", False)])
def test_stores_upgrade_on_start_in_development_only(profile, expected):
    config = load_config(environ={"APP_ENV": profile, "SECRET_KEY": "s"})
    assert config["STORE_AUTO_UPGRADE"] is expected
    overridden = load_config(environ={"APP_ENV": profile, "SECRET_KEY": "s",
                                      "STORE_AUTO_UPGRADE": str(not expected).lower()})
    assert overridden["STORE_AUTO_UPGRADE"] is (not expected)


def test_the_release_is_named_alike_in_code_package_and_changelog():
    import re
    import tomllib
    from pathlib import Path

    from app.version import __version__

    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    newest = re.search(r"^## (\S+)", (root / "CHANGELOG.md").read_text(), re.M).group(1)
    assert project["version"] == newest == __version__
