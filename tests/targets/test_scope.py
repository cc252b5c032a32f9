"""targets.scope: in scope or not, with the reason, fast, and never across teams."""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_django import DjangoAssertNumQueries

from accounts.models import Team, User
from targets.items import (
    Item,
    ItemError,
    image_ref,
    image_ref_normalized,
    repo_path,
    repo_path_normalized,
    url_key,
    url_key_normalized,
)
from targets.models import Target
from targets.parsing import TargetParseError, parse_target
from targets.scope import ScopeMatcher, TargetRow, Verdict, linear_scan
from targets.services import target_create

SHA = "b" * 64
_ids = count(1)


def rows(*specs: str | tuple[str, dict[str, Any]]) -> list[TargetRow]:
    """TargetRows from raw values; '!value' is an exclusion; (value, {expires_at: …}) sets fields."""
    out = []
    for spec in specs:
        raw, extra = (spec, {}) if isinstance(spec, str) else spec
        excluded = raw.startswith("!")
        parsed = parse_target(raw.lstrip("!"), extra.pop("kind", None))
        out.append(
            TargetRow(next(_ids), parsed.kind, parsed.value, excluded, extra.get("expires_at"))
        )
    return out


def matcher(
    *specs: str | tuple[str, dict[str, object]], at: datetime | None = None
) -> ScopeMatcher:
    return ScopeMatcher(rows(*specs), at=at)


@pytest.mark.smoke
def test_a_domain_covers_itself_and_only_itself() -> None:
    scope = matcher("example.com")
    assert scope.check(Item("host", "example.com")).in_scope
    assert scope.check(Item("host", "EXAMPLE.com.")).in_scope
    assert not scope.check(Item("host", "www.example.com")).in_scope
    assert not scope.check(Item("host", "example.com.evil.test")).in_scope
    assert not scope.check(Item("host", "notexample.com")).in_scope


@pytest.mark.smoke
def test_verdicts_say_which_target_or_exclusion_decided() -> None:
    included, excluded = rows("10.0.0.0/8", "!admin.example.com")
    scope = ScopeMatcher([included, excluded, *rows("*.example.com")])
    assert scope.check(Item("host", "10.1.2.3")) == Verdict(
        True, f"covered by target #{included.id} 10.0.0.0/8", included.id
    )
    assert scope.check(Item("host", "admin.example.com")) == Verdict(
        False, f"excluded by #{excluded.id} admin.example.com", excluded.id
    )
    assert scope.check(Item("host", "evil.example")) == Verdict(
        False, "no target covers host evil.example", None
    )


@settings(deadline=None)
@given(
    st.lists(
        st.text(
            alphabet=string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=10
        ).filter(lambda s: s[0] not in "-" and s[-1] != "-"),
        min_size=1,
        max_size=8,
    )
)
def test_a_wildcard_covers_subdomains_at_any_depth_but_not_the_apex(labels: list[str]) -> None:
    scope = matcher("*.example.com")
    assert scope.check(Item("host", ".".join([*labels, "example", "com"]))).in_scope
    assert not scope.check(Item("host", "example.com")).in_scope
    assert not scope.check(Item("host", ".".join([*labels, "example", "org"]))).in_scope
    assert not scope.check(Item("host", ".".join(labels) + "example.com")).in_scope


def test_the_apex_is_in_scope_when_listed_beside_its_wildcard() -> None:
    scope = matcher("*.example.com", "example.com")
    assert scope.check(Item("host", "example.com")).in_scope
    assert scope.check(Item("host", "a.b.example.com")).in_scope


def test_internationalized_hosts_match_their_a_label_targets() -> None:
    scope = matcher("*.bücher.example")
    assert scope.check(Item("host", "shop.xn--bcher-kva.example")).in_scope
    assert scope.check(Item("host", "shop.BÜCHER.example")).in_scope
    assert scope.check(Item("url", "https://shop.bücher.example/x")).in_scope
    assert not scope.check(Item("host", "shop.bucher.example")).in_scope


networks = st.one_of(
    st.builds(
        lambda n, p: ipaddress.ip_network((n, p), strict=False),
        st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
        st.integers(0, 32),
    ),
    st.builds(
        lambda n, p: ipaddress.ip_network((n, p), strict=False),
        st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address),
        st.integers(0, 128),
    ),
)


@given(st.lists(networks, max_size=12), st.lists(networks, max_size=4), st.data())
@settings(max_examples=300, deadline=None)
def test_cidr_containment_agrees_with_ipaddress(
    included: list[ipaddress.IPv4Network],
    excluded: list[ipaddress.IPv4Network],
    data: st.DataObject,
) -> None:
    candidates = [*included, *excluded]
    # Addresses inside some listed network (its first, last, or a random one) and anywhere.
    picks = []
    for network in candidates[:6]:
        picks += [network.network_address, network.broadcast_address]
    picks += data.draw(
        st.lists(
            st.one_of(
                st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
                st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address),
            ),
            max_size=6,
        )
    )
    listed = [TargetRow(i, "cidr", str(n)) for i, n in enumerate(included, 1)]
    listed += [TargetRow(100 + i, "cidr", str(n), excluded=True) for i, n in enumerate(excluded, 1)]
    try:
        scope = ScopeMatcher(listed)
    except TargetParseError:
        return
    for address in picks:
        # ::ffff:a.b.c.d is the IPv4 host a.b.c.d: IPv4 targets cover it, IPv6 exclusions still apply.
        host = getattr(address, "ipv4_mapped", None) or address
        expected = any(host in n for n in included if n.version == host.version) and not any(
            (host in n if n.version == host.version else address in n) for n in excluded
        )
        verdict = scope.check(Item("host", str(address)))
        assert verdict.in_scope == expected, (address, verdict)


@pytest.mark.smoke
def test_every_ipv6_spelling_is_the_same_host() -> None:
    scope = matcher("2001:db8::/32", "!2001:db8::dead")
    for spelling in (
        "2001:db8::1",
        "2001:DB8::1",
        "[2001:db8::1]",
        "2001:0db8:0000:0000:0000:0000:0000:0001",
    ):
        assert scope.check(Item("host", spelling)).in_scope, spelling
    for spelling in ("2001:db8::dead", "2001:DB8:0:0:0:0:0:DEAD", "[2001:db8::dead]"):
        assert not scope.check(Item("host", spelling)).in_scope, spelling
    assert not scope.check(Item("host", "2001:db9::1")).in_scope
    assert not scope.check(Item("host", "fe80::1%eth0")).in_scope


def test_an_ipv4_mapped_address_is_its_ipv4_address_for_inclusions_and_exclusions() -> None:
    scope = matcher("10.0.0.0/8", "!10.0.0.5")
    assert scope.check(Item("host", "::ffff:10.0.0.1")).in_scope
    assert not scope.check(Item("host", "::ffff:10.0.0.5")).in_scope
    assert not scope.check(Item("host", "[::ffff:a00:5]")).in_scope
    ipv6_only = matcher("::/64", "!::/80", "10.0.0.0/8")
    assert not ipv6_only.check(
        Item("host", "::ffff:10.0.0.1")
    ).in_scope  # an IPv6 exclusion still applies
    assert (
        not matcher("::/64").check(Item("host", "::ffff:10.0.0.1")).in_scope
    )  # it is an IPv4 host


def test_an_exclusion_beats_every_kind_of_inclusion() -> None:
    scope = matcher(
        "*.example.com", "!admin.example.com", "!*.internal.example.com",
        "10.0.0.0/8", "!10.0.5.0/24", "https://app.test/", "!https://app.test/admin",
        "ghcr.io/org/*", "!ghcr.io/org/secret", "https://git.test/org/repo.git", "!git@git.test:org/repo.git",
    )  # fmt: skip
    assert not scope.check(Item("host", "admin.example.com")).in_scope
    assert scope.check(
        Item("host", "x.admin.example.com")
    ).in_scope  # a domain exclusion is that name
    assert not scope.check(Item("host", "db.internal.example.com")).in_scope
    assert not scope.check(Item("host", "10.0.5.9")).in_scope
    assert not scope.check(Item("service", "10.0.5.9:22/tcp")).in_scope
    assert scope.check(Item("service", "10.0.6.9:22/tcp")).in_scope
    assert not scope.check(Item("url", "https://admin.example.com/login")).in_scope
    assert not scope.check(Item("url", "https://app.test/admin/users")).in_scope
    assert scope.check(Item("url", "https://app.test/shop")).in_scope
    assert not scope.check(Item("image", "ghcr.io/org/secret:1.0")).in_scope
    assert scope.check(Item("image", "ghcr.io/org/public:1.0")).in_scope
    assert not scope.check(Item("repo", "https://git.test/org/repo")).in_scope


def test_services_are_covered_by_their_host() -> None:
    scope = matcher("127.0.0.1", "::1", "example.com")
    assert scope.check(Item.service("127.0.0.1", 8080)).in_scope
    assert scope.check(Item.service("::1", 80)).in_scope
    assert scope.check(Item("service", "example.com:443/tcp")).in_scope
    verdict = scope.check(Item("service", "127.0.0.2:80/tcp"))
    assert verdict == Verdict(
        False, "no target covers service 127.0.0.2:80/tcp (host 127.0.0.2)", None
    )
    assert not scope.check(Item("service", "127.0.0.1:99999/tcp")).in_scope


def test_urls_are_covered_by_their_host_or_a_url_target_above_them() -> None:
    scope = matcher(
        "example.com",
        "https://app.test/shop",
        "http://app.test:8080/api/",
        "https://app.test/search?q=1",
    )
    assert scope.check(Item("url", "https://example.com:8443/anything?x=1")).in_scope
    assert scope.check(Item("url", "https://app.test/shop")).in_scope
    assert scope.check(Item("url", "https://app.test/shop/cart?id=2")).in_scope
    assert scope.check(Item("url", "HTTPS://APP.test:443/shop/")).in_scope
    assert not scope.check(Item("url", "https://app.test/shopping")).in_scope
    assert not scope.check(Item("url", "http://app.test/shop")).in_scope  # another origin
    assert scope.check(Item("url", "http://app.test:8080/api/v1")).in_scope
    assert not scope.check(Item("url", "http://app.test:8080/apix")).in_scope
    assert scope.check(Item("url", "https://app.test/search?q=1")).in_scope
    assert not scope.check(Item("url", "https://app.test/search?q=2")).in_scope
    assert not scope.check(
        Item("host", "app.test")
    ).in_scope  # a URL authorizes that URL, not the host


def test_images_are_covered_by_reference_repository_or_prefix() -> None:
    scope = matcher(
        "nginx:1.25",
        "ghcr.io/org/app",
        "registry.test/team/*",
        f"alpine@sha256:{SHA}",
        ("redis", {"kind": "image"}),
    )
    assert scope.check(Item("image", "nginx:1.25")).in_scope
    assert scope.check(Item("image", "docker.io/library/nginx:1.25")).in_scope
    assert not scope.check(Item("image", "nginx:1.26")).in_scope
    assert not scope.check(Item("image", "nginx")).in_scope  # that is nginx:latest
    assert (
        scope.check(Item("image", "redis")).in_scope
        and scope.check(Item("image", "redis:7")).in_scope
    )
    assert scope.check(Item("image", "ghcr.io/org/app:any-tag")).in_scope
    assert scope.check(Item("image", f"ghcr.io/org/app@sha256:{SHA}")).in_scope
    assert not scope.check(Item("image", "ghcr.io/org/app2:1")).in_scope
    assert scope.check(Item("image", "registry.test/team/deep/app:1")).in_scope
    assert not scope.check(Item("image", "registry.test/teamx/app:1")).in_scope
    assert scope.check(Item("image", f"alpine:3.20@sha256:{SHA}")).in_scope
    assert not scope.check(Item("image", "alpine:3.20")).in_scope


def test_repositories_match_by_normalized_url_whatever_the_transport() -> None:
    scope = matcher("git@github.com:org/repo.git")
    for form in (
        "https://github.com/org/repo.git",
        "https://GitHub.com/org/repo",
        "ssh://git@github.com/org/repo.git",
        "git@github.com:org/repo",
    ):
        assert scope.check(Item("repo", form)).in_scope, form
    assert not scope.check(Item("repo", "https://github.com/org/repo2.git")).in_scope
    assert not scope.check(Item("repo", "https://github.com/org/repo/sub.git")).in_scope


@pytest.mark.smoke
def test_an_expired_authorization_covers_nothing() -> None:
    now = timezone.now()
    scope = matcher(
        ("old.example.com", {"expires_at": now - timedelta(seconds=1)}),
        ("new.example.com", {"expires_at": now + timedelta(days=1)}),
    )
    assert not scope.check(Item("host", "old.example.com")).in_scope
    assert scope.check(Item("host", "new.example.com")).in_scope
    later = matcher(
        ("new.example.com", {"expires_at": now + timedelta(days=1)}), at=now + timedelta(days=2)
    )
    assert not later.check(Item("host", "new.example.com")).in_scope


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "*.a.test", "b.a.test"]),
            st.integers(-5, 5),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_only_live_authorizations_cover_and_any_live_one_is_enough(
    entries: list[tuple[str, int]],
) -> None:
    at = datetime(2030, 1, 1, tzinfo=UTC)
    listed = []
    for n, (raw, days) in enumerate(entries, 1):
        parsed = parse_target(raw)
        listed.append(
            TargetRow(
                n,
                parsed.kind,
                parsed.value,
                False,
                None if days == 0 else at + timedelta(days=days),
            )
        )
    scope = ScopeMatcher(listed, at=at)
    for item in (Item("host", "10.1.2.3"), Item("host", "b.a.test"), Item("host", "10.9.9.9")):
        verdict = scope.check(item)
        assert verdict.in_scope == linear_scan(listed, item, at=at)
        if verdict.in_scope:
            decided = next(r for r in listed if r.id == verdict.target_id)
            assert decided.expires_at is None or decided.expires_at > at


item_values = {
    "host": st.sampled_from(
        [
            "a.test",
            "x.a.test",
            "y.x.a.test",
            "b.test",
            "10.0.0.1",
            "10.1.1.1",
            "192.168.1.1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "bad host",
            "-oN",
        ]
    ),
    "url": st.sampled_from(
        [
            "https://a.test/",
            "https://x.a.test/p/q",
            "http://10.0.0.1:8080/x",
            "https://c.test/app/x",
            "https://c.test/apple",
            "javascript:alert(1)",
        ]
    ),
    "image": st.sampled_from(
        [
            "nginx",
            "nginx:1.25",
            "ghcr.io/o/a:1",
            "ghcr.io/o/b",
            f"ghcr.io/o/a@sha256:{SHA}",
            "Bad:Image",
        ]
    ),
    "repo": st.sampled_from(["https://g.test/o/r.git", "git@g.test:o/r.git", "https://g.test/o/s"]),
}
target_values = st.sampled_from([
    "a.test", "*.a.test", "x.a.test", "b.test", "10.0.0.0/8", "10.0.0.1", "10.1.0.0/16", "2001:db8::/32", "0.0.0.0/0",
    "https://c.test/app", "http://10.0.0.1:8080/", "nginx:1.25", "nginx", "ghcr.io/o/*", "ghcr.io/o/a", f"ghcr.io/o/a@sha256:{SHA}",
    "https://g.test/o/r.git", "git@g.test:o/s.git",
])  # fmt: skip


@given(
    st.lists(st.tuples(target_values, st.booleans()), max_size=10, unique_by=lambda t: t[0]),
    st.lists(
        st.sampled_from(list(item_values)).flatmap(
            lambda k: item_values[k].map(lambda v: Item(k, v))
        ),
        min_size=1,
        max_size=10,
    ),
)
@settings(max_examples=300, deadline=None)
def test_the_compiled_matcher_agrees_with_a_linear_scan(
    entries: list[tuple[str, bool]], items: list[Item]
) -> None:
    listed = []
    for n, (raw, excluded) in enumerate(entries, 1):
        kind = "image" if raw == "nginx" else None
        parsed = parse_target(raw, kind)
        listed.append(TargetRow(n, parsed.kind, parsed.value, excluded))
    scope = ScopeMatcher(listed)
    for item in items:
        verdict = scope.check(item)
        assert verdict.in_scope == linear_scan(listed, item), (item, verdict)


@pytest.mark.parametrize(
    "item",
    [Item("host", "-oN"), Item("host", "a.test\n-p-"), Item("host", "a\x00.test"), Item("host", "evil;rm.a.test"),
     Item("host", ""), Item("host", "x" * 5000), Item("url", "javascript:alert(1)"), Item("url", "file:///etc/passwd"),
     Item("service", "a.test"), Item("image", "--privileged"), Item("repo", "ext::sh -c id"), Item("planet", "a.test")],
)  # fmt: skip
def test_items_that_do_not_parse_are_out_of_scope_with_the_reason(item: Item) -> None:
    verdict = matcher("*.a.test", "a.test", "0.0.0.0/0").check(item)
    assert not verdict.in_scope
    assert verdict.reason and verdict.target_id is None


def test_check_value_takes_raw_strings_and_reports_parse_errors() -> None:
    scope = matcher("10.0.0.0/8")
    assert scope.check_value("ip", "10.2.3.4").in_scope
    assert scope.check_value("host", "10.2.3.4").in_scope
    bad = scope.check_value("host", "10.0.0.256")
    assert not bad.in_scope and "10.0.0.256" in bad.reason


# --- with the database ---------------------------------------------------------------------


@pytest.mark.django_db
def test_for_team_compiles_the_scope_in_one_query(
    team: Team, user: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for value in (
        "example.com",
        "*.example.com",
        "10.0.0.0/8",
        "https://app.test/",
        "nginx:1.25",
        "git@g.test:o/r.git",
    ):
        target_create(team=team, user=user, value=value)
    target_create(team=team, user=user, value="admin.example.com", excluded=True)
    with django_assert_num_queries(1):
        scope = ScopeMatcher.for_team(team.pk)
    assert len(scope) == 7
    assert scope.check(Item("host", "www.example.com")).in_scope
    assert not scope.check(Item("host", "admin.example.com")).in_scope


@pytest.mark.django_db
def test_a_target_of_one_team_never_covers_an_item_for_another(
    team: Team, user: User, make_user: Callable[..., User]
) -> None:
    other_user = make_user("other@example.test")
    other_team = Team.objects.get(personal_owner=other_user)
    target_create(team=team, user=user, value="*.example.com")
    target_create(team=team, user=user, value="0.0.0.0/0")
    target_create(
        team=other_team, user=other_user, value="!nothing.test".lstrip("!"), excluded=True
    )
    theirs = ScopeMatcher.for_team(other_team.pk)
    for item in (
        Item("host", "a.example.com"),
        Item("host", "10.0.0.1"),
        Item("url", "https://a.example.com/"),
    ):
        assert not theirs.check(item).in_scope
        assert ScopeMatcher.for_team(team.pk).check(item).in_scope


@pytest.mark.django_db
def test_for_team_leaves_out_authorizations_expired_at_the_time_asked(
    team: Team, user: User
) -> None:
    target = target_create(
        team=team, user=user, value="example.com", expires_at=timezone.now() + timedelta(days=3)
    )
    assert ScopeMatcher.for_team(team.pk).check(Item("host", "example.com")).target_id == target.pk
    assert (
        not ScopeMatcher.for_team(team.pk, at=timezone.now() + timedelta(days=4))
        .check(Item("host", "example.com"))
        .in_scope
    )
    Target.objects.filter(pk=target.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert not ScopeMatcher.for_team(team.pk).check(Item("host", "example.com")).in_scope


@pytest.mark.django_db
def test_scan_items_are_what_a_scan_of_each_target_starts_from(team: Team, user: User) -> None:
    def items(value: str, **kwargs: object) -> list[Item]:
        return target_create(team=team, user=user, value=value, **kwargs).scan_items()  # type: ignore[arg-type]

    assert items("example.com") == [Item("host", "example.com")]
    assert items("*.example.com") == [Item("host", "example.com")]  # the apex is listed
    assert items("*.other.test") == []  # the apex is not in scope
    assert items("10.0.0.7") == [Item("host", "10.0.0.7")]
    assert [i.value for i in items("192.168.1.0/30")] == ["192.168.1.1", "192.168.1.2"]
    assert [i.value for i in items("2001:db8::/126")] == [
        "2001:db8::1",
        "2001:db8::2",
        "2001:db8::3",
    ]
    assert items("https://app.test/x") == [Item("url", "https://app.test/x")]
    assert items("nginx:1.25") == [Item("image", "docker.io/library/nginx:1.25")]
    assert items("git@g.test:o/r.git") == [Item("repo", "ssh://git@g.test/o/r.git")]
    assert items("skip.example.com", excluded=True) == []


@pytest.mark.django_db
def test_scan_items_refuse_a_range_larger_than_the_limit(team: Team, user: User) -> None:
    target = target_create(team=team, user=user, value="10.0.0.0/8")
    with pytest.raises(
        ValidationError,
        match=r"10\.0\.0\.0/8 has 16,777,214 addresses; a scan starts from at most 1,024",
    ):
        target.scan_items()
    assert (
        len(target_create(team=team, user=user, value="10.1.0.0/22").scan_items(max_hosts=1022))
        == 1022
    )


# --- the items' fast paths agree with full normalization --------------------------------------

url_text = st.builds(
    lambda scheme, host, port, path, query, frag: f"{scheme}://{host}{port}{path}{query}{frag}",
    st.sampled_from(["http", "https", "HTTP"]),
    st.sampled_from(
        [
            "a.test",
            "A.test",
            "x.a.test.",
            "10.0.0.1",
            "[::1]",
            "[::ffff:10.0.0.1]",
            "[10.0.0.1]",
            "1.2.3",
            "b_c.test",
            "-x.test",
            "a..test",
            "bücher.example",
        ]
    ),
    st.sampled_from(["", ":80", ":443", ":0", ":8080", ":99999", ":080"]),
    st.text(alphabet="/abAB09._~!$&'()*+,;=:@%-` ü", max_size=12),
    st.sampled_from(["", "?", "?q=1", "?a=b&c=%zz", "?x=/y?z"]),
    st.sampled_from(["", "#", "#frag"]),
)
image_text = st.builds(
    lambda registry, path, tag, digest: registry + path + tag + digest,
    st.sampled_from(
        [
            "",
            "ghcr.io/",
            "localhost/",
            "localhost:5000/",
            "docker.io/",
            "index.docker.io/",
            "Reg.io/",
            "a.-b.io/",
            "h:99999/",
            "x_y.io/",
        ]
    ),
    st.sampled_from(
        [
            "nginx",
            "org/app",
            "a.b/c",
            "a_b.c/d",
            "a__b/c--d",
            "localhost",
            "UP/x",
            "a..b/c",
            "0.0/0",
            "deep/er/path",
        ]
    ),
    st.sampled_from(["", ":1.25", ":latest", ":.bad", ":" + "t" * 129]),
    st.sampled_from(
        ["", f"@sha256:{SHA}", f"@sha256:{SHA.upper()}", "@sha256:abc", "@sha512:" + "e" * 128]
    ),
)
repo_text = st.builds(
    lambda scheme, host, port, path, suffix: f"{scheme}://{host}{port}/{path}{suffix}",
    st.sampled_from(["https", "http", "ssh", "git"]),
    st.sampled_from(["g.test", "G.test", "10.0.0.1", "g.test.", "-g.test", "g_h.test"]),
    st.sampled_from(["", ":22", ":443", ":0", ":99999"]),
    st.sampled_from(
        ["o/r", "o/r/s", "o/.r", "o/../r", "o//r", "-o/r", "o/r.git.git", "O/R", "o/r~x+y"]
    ),
    st.sampled_from(["", ".git", "/", ".git/", "?x", "#y"]),
)


def _outcome(parse: Callable[[str], object], value: str) -> object:
    try:
        return parse(value)
    except ItemError:
        return "error"


@given(url_text)
@settings(max_examples=400, deadline=None)
def test_the_url_fast_path_agrees_with_full_normalization(value: str) -> None:
    assert _outcome(url_key, value) == _outcome(url_key_normalized, value)


@given(image_text)
@settings(max_examples=400, deadline=None)
def test_the_image_fast_path_agrees_with_full_normalization(value: str) -> None:
    assert _outcome(image_ref, value) == _outcome(image_ref_normalized, value)


@given(repo_text)
@settings(max_examples=400, deadline=None)
def test_the_repo_fast_path_agrees_with_full_normalization(value: str) -> None:
    assert _outcome(repo_path, value) == _outcome(repo_path_normalized, value)
