"""Scope enforced by the network: a sandboxed tool reaches only its step's authorized targets.

The engine checks scope before every step and on every discovered item, but a tool running in a
container can still follow a redirect, a DNS answer or its own script to an address nobody
authorized. When the worker can manage network namespaces (root or CAP_NET_ADMIN, `ip`, `nft`
and `nsenter` installed), a Docker step runs in a network sandbox:

- `policy`: what the step may reach: the addresses of its input items (names resolved by the
  worker, consecutive addresses collapsed into prefixes, ports narrowed when the items name
  them), as an nftables ruleset for the step's own namespace; everything else is refused and
  counted per destination;
- `link`: the private link: a veth pair whose inner end is moved into the namespace of a
  holder container (the tool container joins that namespace), addressed from
  SCOPE_SANDBOX_SUBNET, routed and masqueraded by the worker;
- `resolver`: a DNS server on the worker's end of the link that answers only names under
  authorized domains, and only with addresses in scope (added to the allowlist before the
  answer leaves, so no second lookup can widen it);
- `container`: the holder container and the session a Docker run goes through;
- `enforcement`: SCOPE_ENFORCEMENT (`off`, `auto`, `required`) and why a step runs without it.

docs/scope-enforcement.md says what is enforced where.
"""
