"""Gate: a TypeScript client generated from openapi/openapi.json compiles under `tsc --strict` and
runs the seed scenario against the real server.

clients/typescript pins openapi-typescript, openapi-fetch and TypeScript in its package-lock.json
(installed here with `npm ci`, again only when the lock file changes). The generator runs with its
default options, as a TypeScript user would run it; clients/typescript/seed-scenario.ts, the twin
of the Python client gate's scenario, must type-check with `tsc --strict --noEmit` and then pass
against uvicorn serving the test database. The program reads only response headers the document
declares for that status (its `headersOf` helper does not compile otherwise), and leaves out the
request fields that have a default.

Needs Node.js 20 (or newer) and npm on PATH, and the npm registry for the first install.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.cli import OPENAPI_PATH, ROOT
from app.enums import Role
from tests.factories import Org

CLIENT = ROOT / "clients" / "typescript"
INSTALLED_STAMP = CLIENT / "node_modules" / ".installed-from-lock"
NPM_TIMEOUT_SECONDS = 300
# openapi-typescript prints its name and the file it wrote; anything else is a finding.
GENERATOR_BANNER = (r"openapi-typescript \d", r"→ schema\.d\.ts")


@dataclass
class Run:
    command: str
    returncode: int
    output: str

    def explain(self) -> str:
        return f"`{self.command}` exited with {self.returncode}:\n{self.output}"


def run(*command: str, env: dict[str, str] | None = None, timeout: float = NPM_TIMEOUT_SECONDS) -> Run:
    done = subprocess.run(
        command,
        cwd=CLIENT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0", **(env or {})},
        check=False,
    )
    output = "\n".join(
        line
        for line in f"{done.stdout}\n{done.stderr}".splitlines()
        # A note about the developer's own ~/.npmrc, not about this project.
        if line.strip() and "Unknown user config" not in line
    )
    return Run(" ".join(command), done.returncode, output)


def installed() -> None:
    """`npm ci` (exactly the lock file), skipped while node_modules is from the current lock."""
    npm = shutil.which("npm")
    assert npm is not None and shutil.which("node"), "the TypeScript client gate needs Node.js 20+ and npm"
    lock = [CLIENT / "package.json", CLIENT / "package-lock.json"]
    if INSTALLED_STAMP.exists() and all(INSTALLED_STAMP.stat().st_mtime >= f.stat().st_mtime for f in lock):
        return
    install = run(npm, "ci", "--no-audit", "--no-fund")
    assert install.returncode == 0, install.explain()
    INSTALLED_STAMP.touch()


def tool(name: str) -> str:
    return str(CLIENT / "node_modules" / ".bin" / name)


@pytest.fixture(scope="module")
def generated() -> Iterator[Run]:
    installed()
    (CLIENT / "schema.d.ts").unlink(missing_ok=True)
    yield run(tool("openapi-typescript"), str(OPENAPI_PATH), "--output", "schema.d.ts")


def test_the_generator_accepts_the_document(generated: Run) -> None:
    assert generated.returncode == 0, generated.explain()
    assert (CLIENT / "schema.d.ts").exists(), generated.explain()
    lines = generated.output.splitlines()
    findings = [line for line in lines if not any(re.search(banner, line) for banner in GENERATOR_BANNER)]
    assert not findings, "openapi-typescript reports problems with the document:\n" + "\n".join(findings)


def test_the_seed_scenario_compiles_under_strict(generated: Run) -> None:
    assert generated.returncode == 0, generated.explain()
    compiled = run(tool("tsc"), "--strict", "--noEmit", "--project", "tsconfig.json", timeout=180)
    assert compiled.returncode == 0, (
        "the seed scenario does not compile against the generated client (each error is something "
        "a TypeScript user of the API would meet):\n" + compiled.explain()
    )


def test_the_seed_scenario_runs_against_the_server(generated: Run, server: str, scenario_org: Org) -> None:
    assert generated.returncode == 0, generated.explain()
    # Type checking is the test above; here only the JavaScript is written.
    build = run(tool("tsc"), "--project", "tsconfig.json", "--noEmit", "false", "--noCheck", timeout=180)
    assert build.returncode == 0, build.explain()
    keys = {
        "UGS_BASE_URL": server,
        "UGS_ADMIN_KEY": scenario_org.keys[Role.admin],
        "UGS_BACKEND_KEY": scenario_org.keys[Role.integration],
    }
    played = run("node", str(Path("build") / "seed-scenario.js"), env=keys, timeout=120)
    assert played.returncode == 0, played.explain()
    assert "seed scenario: ok" in played.output, played.output
