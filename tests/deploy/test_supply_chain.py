"""The supply-chain gates `make audit` runs: the bandit gate, the secret scan, the SBOM."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def run(
    argv: list[str], cwd: Path = ROOT, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_bandit_gate_fails_on_an_unjustified_finding_and_accepts_ruffs_noqa(
    tmp_path: Path,
) -> None:
    module = tmp_path / "loader.py"
    module.write_text("import yaml\n\n\ndef load(text):\n    return yaml.load(text)\n")
    failed = run([PY, str(ROOT / "scripts" / "bandit-gate"), str(tmp_path)])
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "loader.py:5: B506 (yaml_load" in failed.stdout
    module.write_text(
        "import yaml\n\n\ndef load(text):\n"
        "    return yaml.load(text)  # noqa: S506  (a test of the gate, never imported)\n"
    )
    passed = run([PY, str(ROOT / "scripts" / "bandit-gate"), str(tmp_path)])
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 findings justified" in passed.stdout


@pytest.mark.slow
def test_the_secret_scan_fails_on_a_secret_that_is_not_in_the_reviewed_baseline(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "secret-scan", repo / "scripts" / "secret-scan")
    (repo / "settings.py").write_text(
        'DATABASE_URL = "postgres://user:pass@db.internal:5432/app"\n'
    )
    run(["git", "init", "-q"], cwd=repo)
    run(["git", "add", "."], cwd=repo)
    scan = [PY, "scripts/secret-scan"]

    first = run(scan, cwd=repo)
    assert first.returncode == 1 and "settings.py:1  Basic Auth Credentials" in first.stdout
    # reviewed: a documentation URL, not a secret
    assert run([*scan, "--update"], cwd=repo).returncode == 0
    baseline = json.loads((repo / ".secrets.baseline").read_text())
    for findings in baseline["results"].values():
        for finding in findings:
            finding["is_secret"] = False
    (repo / ".secrets.baseline").write_text(json.dumps(baseline))
    assert run(scan, cwd=repo).returncode == 0

    # a documentation line naming an example domain is not reported
    (repo / "docs.md").write_text(
        "curl https://admin:" + "hunter2hunter2@outpost.example.com/api\n"
    )
    (repo / "deploy.env").write_text("AWS_ACCESS_KEY_ID=" + "AKIA" + "Z7QXWERTYUPL3M5N\n")
    run(["git", "add", "docs.md"], cwd=repo)
    run(["git", "add", "deploy.env"], cwd=repo)
    leaked = run(scan, cwd=repo)
    assert leaked.returncode == 1
    assert "deploy.env:1  AWS Access Key" in leaked.stdout
    assert "settings.py" not in leaked.stdout, "the reviewed finding stays accepted"
    assert "docs.md" not in leaked.stdout


def test_the_sbom_lists_every_locked_runtime_pin(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    exported = run(
        [
            uv,
            "export",
            "--frozen",
            "--no-dev",
            "--no-emit-project",
            "--format",
            "requirements-txt",
            "-o",
            str(requirements),
        ]
    )
    assert exported.returncode == 0, exported.stderr
    sbom = tmp_path / "sbom.cdx.json"
    made = run([
        str(Path(PY).parent / "cyclonedx-py"), "requirements", "--pyproject", "pyproject.toml",
        "--output-reproducible", "--output-format", "JSON", "-o", str(sbom), str(requirements),
    ])  # fmt: skip
    assert made.returncode == 0, made.stderr
    document = json.loads(sbom.read_text())
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.6"
    pins = {
        line.split("==")[0].lower(): line.split("==")[1].split()[0]
        for line in requirements.read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    components = {c["name"].lower(): c["version"] for c in document["components"]}
    assert components == pins
    assert components["django"].startswith("5.2.") and "gunicorn" in components
    assert all(c["purl"].startswith("pkg:pypi/") for c in document["components"])
