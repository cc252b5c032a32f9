"""Turning items into tool arguments, refusing anything a tool could misread.

Item values are already canonical and scope-checked by the engine, but a value on its way into
an argv is checked once more, here, with the same strict parser targets go through
(`targets.parsing.parse_target`): no leading "-" (a tool would take it for an option), no
whitespace or control characters, only the shapes a host, URL, image or git URL can have. What is
refused is left out of the plan and logged by the runner, never passed on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeVar

from scans.tools.kit.values import parse_service, url_endpoint
from targets.items import Item
from targets.parsing import TargetParseError, parse_target


class TargetRefused(ValueError):
    """An item that must not become a tool argument; the message says why."""


def _parsed(value: str, kind: str | None) -> str:
    if value.startswith("-"):
        raise TargetRefused(f"{value[:80]!r} starts with '-' (a tool would read it as an option)")
    try:
        parsed = parse_target(value, kind)
    except TargetParseError as exc:
        raise TargetRefused(str(exc)) from exc
    if parsed.is_wildcard or parsed.is_prefix or parsed.kind == "cidr":
        raise TargetRefused(f"{value[:80]!r} is a pattern, not something a tool can be pointed at")
    return value


def host_argument(value: str) -> str:
    """A host name or IP address, as given."""
    _parsed(value, None)
    if parse_target(value).kind not in {"domain", "ip"}:
        raise TargetRefused(f"{value[:80]!r} is not a host name or IP address")
    return value


def service_argument(item: Item) -> tuple[str, int, str]:
    """(host, port, proto) of a service item."""
    try:
        host, port, proto = parse_service(item.value)
    except ValueError as exc:
        raise TargetRefused(str(exc)) from exc
    return host_argument(host), port, proto


def url_argument(value: str) -> str:
    return _parsed(value, "url")


def image_argument(value: str) -> str:
    return _parsed(value, "image")


def repo_argument(value: str) -> str:
    return _parsed(value, "repo")


def item_argument(item: Item) -> str:
    """The value a tool is pointed at for this item: host, host:port, URL, image or repo."""
    if item.kind == "host":
        return host_argument(item.value)
    if item.kind == "service":
        host, port, _proto = service_argument(item)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if item.kind == "url":
        return url_argument(item.value)
    if item.kind == "image":
        return image_argument(item.value)
    if item.kind == "repo":
        return repo_argument(item.value)
    raise TargetRefused(f"unknown item kind {item.kind!r}")


def refused_line(item: Item, exc: Exception, refusal: str = "not scanned") -> str:
    """The step log's line for an item that does not become an argument: `'value' <refusal>:
    why`."""
    return f"{item.value[:80]!r} {refusal}: {exc}"


Target = TypeVar("Target")


def item_targets(
    items: list[Item],
    kinds: Collection[str],
    target: Callable[[Item], Target],
    *,
    refusal: str = "not scanned",
) -> tuple[dict[str, Target], list[str]]:
    """The items of `kinds` that become arguments: item value -> `target(item)` (which raises
    TargetRefused for a value no tool may get), in order, each once; and the log lines of the
    items refused."""
    targets: dict[str, Target] = {}
    refused: list[str] = []
    for item in items:
        if item.kind not in kinds:
            continue
        try:
            targets.setdefault(item.value, target(item))
        except TargetRefused as exc:
            refused.append(refused_line(item, exc, refusal))
    return targets, refused


def tls_endpoints(items: list[Item]) -> tuple[list[str], list[str]]:
    """The `host:port` (`[v6]:port`) arguments of TLS endpoints, each once: tcp service items and
    the host and port of https URL items; and the log lines of the items refused."""
    targets: dict[str, None] = {}
    refused: list[str] = []
    for item in items:
        try:
            if item.kind == "service":
                host, port, proto = service_argument(item)
                if proto != "tcp":
                    continue
            elif item.kind == "url":
                scheme, host, port = url_endpoint(item.value)
                if scheme != "https":
                    continue
                host = host_argument(host)
            else:
                continue
        except (TargetRefused, ValueError) as exc:
            refused.append(refused_line(item, exc))
            continue
        targets.setdefault(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return list(targets), refused


def item_arguments(
    items: list[Item], kind: str, argument: Callable[[str], str], *, refusal: str = "not scanned"
) -> tuple[list[str], list[str]]:
    """The values of the items of `kind` through `argument` (host_argument, url_argument…), each
    once and in order; and the log lines of the items refused (`'value' <refusal>: why`)."""
    targets, refused = item_targets(
        items, {kind}, lambda item: argument(item.value), refusal=refusal
    )
    return list(dict.fromkeys(targets.values())), refused


def url_directories(items: list[Item]) -> tuple[list[str], list[str]]:
    """The directories of the URL items, each once ("http://h/app/index.php?x" -> "http://h/app/":
    where content discovery looks), re-parsed; and the log lines of the items refused."""
    urls, refused = item_arguments(items, "url", url_argument)
    bases: dict[str, None] = {}
    for url in urls:
        path = url.split("?")[0].split("#")[0]
        bases.setdefault(path if path.endswith("/") else path.rsplit("/", 1)[0] + "/")
    return list(bases), refused
