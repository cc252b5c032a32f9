"""Webhook URLs cannot reach inside (issue #21, item 3): IPv4 hidden in IPv6 forms is checked
(NAT64, 6to4, Teredo, IPv4-mapped/compatible/translated), the connection goes to the address that
was checked (DNS rebinding), and Slack and Discord integrations post only to their own hosts."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import Team, User
from integrations.delivery import delivery_send
from integrations.models import Delivery, DeliveryStatus
from integrations.outbound import address_is_internal, embedded_ipv4, post_json, url_problem
from integrations.services import integration_create, integration_test
from tests.netns import Netns, netns  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

PUBLIC_IN_NETNS = "45.0.0.7"  # only ever configured inside the test's own network namespace


@pytest.fixture
def production_mode(settings: Any) -> None:
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = False


# The campaign's URLs (Python 3.11 calls each of these addresses global), and the other forms.
INTERNAL_IN_DISGUISE = [
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",  # NAT64 of 169.254.169.254
    "http://[::127.0.0.1]/hook",  # IPv4-compatible loopback
    "http://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
    "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
    "http://[64:ff9b:1::a00:1]/hook",  # NAT64 local-use prefix, 10.0.0.1
    "http://[::ffff:0:a9fe:a9fe]/hook",  # IPv4-translated 169.254.169.254
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",  # Teredo, client 127.0.0.1
]


@pytest.mark.parametrize("url", INTERNAL_IN_DISGUISE)
def test_it_refuses_an_internal_ipv4_hidden_in_an_ipv6_webhook_url(
    url: str, production_mode: None, owner_api: Any
) -> None:
    answer = owner_api.post(
        "/api/v1/integrations",
        {"kind": "webhook", "name": "x", "webhook_url": url, "signing_secret": "s" * 20},
        format="json",
    )

    assert answer.status_code == 400, answer.content
    assert "internal address" in answer.json()["errors"]["webhook_url"][0]


def test_the_embedded_ipv4_of_each_form_is_found() -> None:
    def embedded(text: str) -> list[str]:
        return [str(a) for a in embedded_ipv4(ipaddress.ip_address(text))]

    assert embedded("64:ff9b::a9fe:a9fe") == ["169.254.169.254"]
    assert embedded("2002:7f00:1::") == ["127.0.0.1"]
    assert embedded("::7f00:1") == ["127.0.0.1"]
    assert "127.0.0.1" in embedded("2001:0:4136:e378:8000:63bf:80ff:fffe")
    assert embedded("2606:4700::1111") == []


def test_a_nat64_address_of_a_public_ipv4_is_still_a_valid_receiver(production_mode: None) -> None:
    """IPv6-only networks reach IPv4 receivers through NAT64: only internal ones are refused."""
    assert not address_is_internal(ipaddress.ip_address("64:ff9b::808:808"))
    assert url_problem("http://[64:ff9b::808:808]/hook") == ""


def test_it_connects_to_the_address_it_checked_when_dns_rebinds(netns: Netns) -> None:  # noqa: F811
    """rebind.test answers a public address to the check and 127.0.0.1 to anyone asking again:
    the request goes to the public address, with the name in Host, and the name is resolved once."""
    added = subprocess.run(
        ["ip", "-n", netns.name, "addr", "add", f"{PUBLIC_IN_NETNS}/32", "dev", "lo"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr

    done = netns.python("tests.integrations.rebinding_child", PUBLIC_IN_NETNS)

    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["ok"] is True, outcome
    assert outcome["loopback_hits"] == []
    assert outcome["public_hits"] == [{"path": "/hook", "host": "rebind.test:8080"}]
    assert outcome["a_queries"] == 1


def test_a_name_that_resolves_inside_is_refused_at_send_time_too(production_mode: None) -> None:
    attempt = post_json("http://localhost:9/hook", b"{}", {})

    assert not attempt.ok and not attempt.retryable
    assert "internal address" in attempt.error


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        (
            "slack",
            "https://hooks.slack.com/services/T0/B0/x",
            "https://hooks.slack.com.evil.example/x",
        ),
        ("discord", "https://discord.com/api/webhooks/1/x", "https://example.com/api/webhooks/1/x"),
    ],
)
def test_slack_and_discord_post_only_to_their_own_hosts(
    kind: str, good: str, bad: str, owner_api: Any, settings: Any
) -> None:
    settings.INTEGRATIONS_SLACK_HOSTS = ["hooks.slack.com", "hooks.slack-gov.com"]
    settings.INTEGRATIONS_DISCORD_HOSTS = ["discord.com", "discordapp.com"]

    refused = owner_api.post(
        "/api/v1/integrations", {"kind": kind, "name": "x", "webhook_url": bad}, format="json"
    )
    accepted = owner_api.post(
        "/api/v1/integrations", {"kind": kind, "name": "y", "webhook_url": good}, format="json"
    )

    assert refused.status_code == 400
    assert "must be on" in refused.json()["errors"]["webhook_url"][0]
    assert bad not in refused.content.decode()
    assert accepted.status_code == 201, accepted.content


def test_the_page_shows_the_host_rule_next_to_the_field(
    user: User, team: Team, settings: Any
) -> None:
    settings.INTEGRATIONS_SLACK_HOSTS = ["hooks.slack.com"]
    browser = Client()
    browser.force_login(user)

    answer = browser.post(
        "/integrations/new/slack", {"name": "x", "webhook_url": "https://example.com/hook"}
    )

    assert answer.status_code in (200, 400)
    assert "must be on hooks.slack.com" in answer.content.decode()


def test_a_gateway_host_can_be_allowed_for_slack(
    settings: Any, receiver: Any, user: User, team: Team
) -> None:
    """An enterprise gateway (here the local receiver) is added to INTEGRATIONS_SLACK_HOSTS."""
    settings.INTEGRATIONS_SLACK_HOSTS = ["hooks.slack.com", "127.0.0.1"]
    integration = integration_create(
        team=team, user=user, kind="slack", name="gw", webhook_url=receiver.url("/gw/hook")
    )

    delivery = integration_test(integration=integration, user=user)
    delivery_send(delivery.pk)

    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED
    assert len(receiver.to("/gw/hook")) == 1


def test_a_stored_url_whose_host_is_no_longer_allowed_is_not_sent(
    settings: Any, receiver: Any, user: User, team: Team, make_integration: Callable[..., Any]
) -> None:
    integration = make_integration("slack", receiver.url("/old/hook"))
    settings.INTEGRATIONS_SLACK_HOSTS = ["hooks.slack.com"]

    delivery = integration_test(integration=integration, user=user)
    delivery_send(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "must be on hooks.slack.com" in delivery.error
    assert receiver.to("/old/hook") == []
