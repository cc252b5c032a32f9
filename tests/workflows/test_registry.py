from __future__ import annotations

import pytest

from targets.items import ITEM_KINDS
from workflows.node_config import config_errors, config_normalize
from workflows.nodes import GROUPS, get_node_type, node_type, node_type_names, node_types

pytestmark = pytest.mark.smoke

EXPECTED = {
    "dns_resolve", "port_scan", "http_probe", "tls_inspect", "secret_scan",
    "nmap", "trivy", "grype", "gitleaks", "nuclei", "condition", "rules", "delay",
}  # fmt: skip


def test_every_node_type_of_the_issue_is_registered() -> None:
    assert set(node_type_names()) >= EXPECTED


def test_every_registered_module_defines_its_node_with_a_known_group_and_help() -> None:
    for name in node_type_names():
        node = get_node_type(name)
        assert node.type == name
        assert node.group in GROUPS
        assert node.help and len(node.help) < 120
        assert node.icon


def test_every_node_type_loads_its_runner_and_declares_item_kinds(settings) -> None:
    settings.GRYPE_ENABLED = True
    for node in node_types():
        assert node.unavailable_reason == "", node.type
        assert node.accepts <= set(ITEM_KINDS)
        assert node.emits <= set(ITEM_KINDS)
        assert node.accepts or node.consumes_findings, f"{node.type} accepts nothing"


def test_every_node_types_defaults_pass_its_own_schema(settings) -> None:
    """Only fields a user must fill in (required, no default) may be missing from the defaults."""
    settings.GRYPE_ENABLED = True
    for node in node_types():
        if not node.is_available:
            continue  # reported by the test above
        must_fill = {f.name for f in node.config_fields if f.required and f.default is None}
        assert set(config_errors(node, {})) <= must_fill, node.type
        assert set(config_errors(node, config_normalize(node, {}))) <= must_fill, node.type


def test_the_palette_is_ordered_by_group() -> None:
    groups = [n.group for n in node_types()]
    assert groups == sorted(groups, key=GROUPS.index)


def test_an_unknown_type_is_none_and_a_keyerror_for_the_engine() -> None:
    assert node_type("rm_rf") is None
    with pytest.raises(KeyError):
        get_node_type("rm_rf")


def test_grype_is_listed_unavailable_while_it_is_disabled(settings) -> None:
    settings.GRYPE_ENABLED = False
    grype = get_node_type("grype")
    assert "GRYPE_ENABLED" in grype.unavailable_reason
    assert grype.describe()["available"] is False


def test_a_node_whose_runner_cannot_be_imported_is_unavailable_with_the_reason() -> None:
    from workflows.nodes.base import NodeType

    missing = NodeType(
        type="slack_alert",
        label="Slack",
        group="Notify",
        icon="bell",
        help="x",
        runner="integrations.not_written_yet",
    )
    assert "not available" in missing.unavailable_reason
    assert "integrations.not_written_yet" in missing.unavailable_reason
    assert missing.describe()["config"] == []


def test_the_node_catalogue_describes_schemas_with_limits() -> None:
    delay = get_node_type("delay").describe()
    assert delay["config"] == [
        {
            "name": "seconds",
            "type": "int",
            "default": 60,
            "help": delay["config"][0]["help"],
            "min": 1,
            "max": 86400,
        }
    ]
    assert delay["group"] == "Logic"
    assert set(delay["accepts"]) == set(ITEM_KINDS)
