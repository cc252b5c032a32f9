"""The one-line summary beside an asset in the inventory list, an asset's children and a scan's
panel (`{% asset_summary %}`): what each kind shows, escaped, cut to its length."""

from __future__ import annotations

from django.template import Context, Template

from scans.models import Asset


def summary(asset: Asset) -> str:
    return Template("{% load asset_tags %}{% asset_summary a %}").render(Context({"a": asset}))


def test_a_url_shows_its_status_title_redirect_and_first_three_technologies() -> None:
    url = Asset(kind="url", value="http://x/", status_code=301, attrs={
        "title": "<script>alert(1)</script>" + "x" * 80, "redirect_to": "https://x.test/login",
        "technologies": [{"name": "nginx", "version": "1.25"}, {"name": "PHP"}, {"name": "jQuery"},
                         {"name": "fourth"}],
    })  # fmt: skip
    html = summary(url)
    assert html.startswith('<span class="http-status s3">301</span> &lt;script&gt;alert(1)')
    assert "<script>" not in html and "x" * 60 not in html and "…" in html
    assert '<span class="muted">→ https://x.test/login</span>' in html
    assert '<span class="badge">nginx 1.25</span> <span class="badge">PHP</span>' in html
    assert "jQuery" in html and "fourth" not in html
    assert summary(Asset(kind="url", value="http://y/", attrs={})) == ""


def test_every_kind_has_its_line() -> None:
    cases = [
        (Asset(kind="service", attrs={"service": "http", "product": "nginx", "tls": True}),
            'http nginx  <span class="badge">TLS</span>'),
        (Asset(kind="domain", attrs={"addresses": ["10.0.0.1", "10.0.0.2"]}),
            '<span class="muted">→</span> 10.0.0.1, 10.0.0.2'),
        (Asset(kind="ip", attrs={"reverse_dns": ["a.test"], "asn": "AS1", "org": "A & B"}),
            'a.test <span class="muted">AS1 A &amp; B</span>'),
        (Asset(kind="certificate", attrs={"subject": "CN=lab", "not_after": "2027-01-01T00:00:00"}),
            'CN=lab <span class="muted">until 2027-01-01</span>'),
        (Asset(kind="technology", attrs={"name": "nginx", "category": "web server"}),
            'nginx <span class="muted">web server</span>'),
        (Asset(kind="image", attrs={"os": "debian", "digest": "sha256:" + "a" * 64}),
            'debian <code class="muted">sha256:aaaaaaaaaaaa…</code>'),
        (Asset(kind="repo", attrs={}), '<span class="muted">—</span>'),
    ]  # fmt: skip
    for asset, expected in cases:
        assert summary(asset) == expected, asset.kind
