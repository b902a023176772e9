"""CI runs what docs/testing.md says it runs: every tox environment, as many at once as there are cores."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ON_DEMAND = {"mutation"}  # documented, left out of env_list on purpose


def env_list() -> list[str]:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    return [name.strip() for name in ini["tox"]["env_list"].split(",")]


def documented_envs() -> set[str]:
    """The environments named in the first column of docs/testing.md's "| tox env | what |" tables."""
    names: set[str] = set()
    in_table = False
    for line in (ROOT / "docs" / "testing.md").read_text().splitlines():
        if line.startswith("| tox env |"):
            in_table = True
        elif in_table and line.startswith("|"):
            names.update(re.findall(r"`([\w-]+)`", line.split("|")[1]))
        else:
            in_table = False
    return names


def test_every_tox_environment_is_documented_and_every_documented_one_exists() -> None:
    assert documented_envs() == set(env_list()) | ON_DEMAND


def test_ci_runs_every_environment_in_parallel() -> None:
    commands = [
        shlex.split(line)
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.lstrip().startswith("tox ")
    ]
    # No -e: every environment of env_list; --parallel auto: as many at once as there are cores.
    assert [command[:4] for command in commands] == [["tox", "p", "--parallel", "auto"]]
    assert not any(arg in ("-e", "--env") for arg in commands[0])
