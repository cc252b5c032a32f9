"""What the adapters would run: argv lists with the configured image, targets after `--` where
the tool has it, and values a tool could read as an option (or that are not a host, URL, image
or repository) never in any argv."""

from __future__ import annotations

from typing import Any

import pytest

from scans.engine.runtime import StepFailed
from scans.tools import tool_image, tool_module
from scans.tools.kit.invoke import localize
from scans.tools.kit.options import ConfigError
from targets.items import Item

HOSTILE = [
    Item("host", "-oX/etc/passwd"),
    Item("host", "--script=/tmp/x.nse"),
    Item("host", "127.0.0.1 -p 1"),
    Item("host", "*.example.com"),
    Item("service", "-sC:80/tcp"),
    Item("url", "-u"),
    Item("url", "file:///etc/passwd"),
    Item("image", "--help"),
    Item("image", "Nginx:latest; rm -rf /"),
    Item("repo", "--upload-pack=touch /tmp/pwned"),
    Item("repo", "ext::sh -c touch% /tmp/pwned"),
    Item("repo", "file:///etc"),
]


# The container tools (their modules name an image); a test below checks the registry agrees.
CONTAINER_TOOLS = [
    "dnsrecon",
    "ffuf",
    "gitleaks",
    "gobuster",
    "grype",
    "masscan",
    "nmap",
    "nuclei",
    "sslscan",
    "testssl",
    "trivy",
    "wafw00f",
    "whatweb",
]


def test_the_container_tools_are_the_registrys_tools_with_an_image() -> None:
    from scans.tools import tools

    assert sorted(t.type for t in tools() if not t.is_builtin) == CONTAINER_TOOLS


@pytest.mark.parametrize("tool", CONTAINER_TOOLS)
def test_no_hostile_value_reaches_an_argv(tool: str) -> None:
    adapter = tool_module(tool)

    commands = adapter.commands({}, HOSTILE)

    assert commands == []


@pytest.mark.parametrize("tool", CONTAINER_TOOLS)
def test_every_adapter_declares_what_the_node_registry_reads(tool: str) -> None:
    adapter = tool_module(tool)

    assert adapter.ACCEPTS and isinstance(adapter.EMITS, set)
    for field in adapter.CONFIG_FIELDS:
        assert field["type"] in {"int", "str", "bool", "choice"}
        assert field["help"]
    assert "everity" in (adapter.__doc__ or "")  # the docstring documents the severity mapping


def test_nmap_scans_a_host_with_the_configured_ports_and_writes_xml_to_output(
    settings: Any,
) -> None:
    from scans.tools import nmap

    [command] = nmap.commands({"ports": "top-100"}, [Item("host", "127.0.0.1")])

    assert command.image == tool_image("nmap")
    assert command.argv[:2] == ["nmap", "-sT"]
    assert command.argv[-6:] == [
        "--top-ports",
        "100",
        "-oX",
        "/output/nmap-1.xml",
        "--",
        "127.0.0.1",
    ]
    assert "-sV" in command.argv and "--script" not in command.argv


def test_nmap_scans_only_the_ports_of_service_items_one_command_per_host() -> None:
    from scans.tools import nmap

    items = [
        Item.service("127.0.0.1", 8080),
        Item.service("127.0.0.1", 80),
        Item.service("::1", 443),
    ]

    commands = nmap.commands({"vulners": True}, items)

    assert len(commands) == 2
    assert commands[0].argv[-6:] == [
        "-p",
        "80,8080",
        "-oX",
        "/output/nmap-1.xml",
        "--",
        "127.0.0.1",
    ]
    assert commands[1].argv[-3:] == ["/output/nmap-2.xml", "--", "::1"]
    assert commands[0].argv[commands[0].argv.index("--script") + 1] == "vulners"


def test_nmap_refuses_a_bad_port_list() -> None:
    from scans.tools import nmap

    with pytest.raises(ConfigError, match="ports"):
        nmap.commands({"ports": "1-70000"}, [Item("host", "127.0.0.1")])


def test_trivy_scans_images_and_repositories_with_json_output() -> None:
    from scans.tools import trivy

    commands = trivy.commands(
        {"ignore_unfixed": True},
        [Item("image", "nginx:1.25"), Item("repo", "https://github.com/o/r.git")],
    )

    assert [c.argv[1] for c in commands] == ["image", "repo"]
    image = commands[0].argv
    assert image[image.index("--format") + 1] == "json"
    assert image[image.index("--output") + 1] == "/output/trivy-1.json"
    assert "--ignore-unfixed" in image
    assert image[-2:] == ["--", "nginx:1.25"]


def test_grype_refuses_to_run_when_it_is_switched_off(settings: Any, step_context: Any) -> None:
    from scans.tools import grype

    settings.GRYPE_ENABLED = False

    with pytest.raises(StepFailed, match="GRYPE_ENABLED"):
        grype.run(step_context(items=[Item("image", "nginx:1.25")]))


def test_gitleaks_clones_on_the_worker_then_scans_the_mounted_clone_redacted() -> None:
    from scans.tools import gitleaks

    clone, scan = gitleaks.commands({"depth": 20}, [Item("repo", "https://github.com/o/r.git")])

    assert clone.image == "" and clone.argv[0] == "git"
    assert clone.argv[-3:] == ["--", "https://github.com/o/r.git", "repo"]
    assert scan.image and scan.argv[:4] == ["gitleaks", "detect", "--source", "/input/repo"]
    assert "--redact" in scan.argv
    assert scan.argv[scan.argv.index("--report-path") + 1] == "/output/gitleaks-1.json"


def test_nuclei_runs_templates_from_the_minimum_severity_up_without_interactsh() -> None:
    from scans.tools import nuclei

    [command] = nuclei.commands(
        {"min_severity": "medium", "tags": "cve,exposure"}, [Item("url", "http://127.0.0.1:8080/")]
    )

    argv = command.argv
    assert set(argv[argv.index("-severity") + 1].split(",")) == {"critical", "high", "medium"}
    assert argv[argv.index("-tags") + 1] == "cve,exposure"
    assert "-no-interactsh" in argv
    assert argv[-2:] == ["-u", "http://127.0.0.1:8080/"]


def test_nuclei_refuses_tags_that_are_not_plain_words() -> None:
    from scans.tools import nuclei

    with pytest.raises(ConfigError, match="tags"):
        nuclei.commands({"tags": "cve -t /etc/passwd"}, [Item("url", "http://127.0.0.1/")])


def test_container_paths_become_the_local_executors_folders(tmp_path: Any) -> None:
    argv = ["nmap", "-oX", "/output/nmap-1.xml", "--source", "/input/repo", "--", "/outputs"]

    local = localize(argv, tmp_path)

    assert local == [
        "nmap",
        "-oX",
        f"{tmp_path}/output/nmap-1.xml",
        "--source",
        f"{tmp_path}/input/repo",
        "--",
        "/outputs",
    ]
