"""Quirks: documented or plausible variations of Copy.ai's answers that a client must survive.

Each quirk is a boolean, off by default, switched at run time with `POST /_admin/quirks`
(`{"total_as_string": true}`), at start with `copyai-emulator --quirk total_as_string`, or from
`Emulator(quirks={...})`. `POST /_admin/reset` restores the quirks given at start.

- ``total_as_string``: the list routes answer `"total": "2"` (the reference shows both forms).
- ``omit_total``: the list routes answer without `total` (wins over `total_as_string`).
- ``normalize_urls``: a registered URL is stored, returned and listed in a normalized form: scheme
  and host lower-cased, the scheme's default port (:80 for http, :443 for https) dropped, an empty
  path made "/"; user info, path (its case too), query and fragment are kept as given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Quirks:
    total_as_string: bool = False
    omit_total: bool = False
    normalize_urls: bool = False

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def updated(self, changes: dict[str, Any]) -> Quirks:
        """A copy with `changes` applied; ValueError names an unknown quirk or a value that is not a boolean."""
        unknown = sorted(set(changes) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown quirk(s) {', '.join(unknown)}; known: {', '.join(self.names())}")
        bad = sorted(k for k, v in changes.items() if not isinstance(v, bool))
        if bad:
            raise ValueError(f"quirk values must be true or false: {', '.join(bad)}")
        return replace(self, **changes)

    def to_json(self) -> dict[str, bool]:
        return asdict(self)

    def list_total(self, total: int) -> dict[str, Any]:
        """The `total` member of a list answer: `{"total": 2}`, `{"total": "2"}` or nothing."""
        if self.omit_total:
            return {}
        return {"total": str(total) if self.total_as_string else total}


def normalize_url(url: str) -> str:
    """The `normalize_urls` form of an absolute http(s) URL (one that passed the emulator's check).

    Parsed by hand rather than with `urllib.parse.urlsplit`, which raises on some inputs the check
    lets through (e.g. an unclosed IPv6 bracket); what cannot be parsed is kept as given.
    """
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    userinfo, at, hostport = authority.rpartition("@")
    host, port = hostport, ""
    if hostport.startswith("["):  # IPv6 literal: [::1]:8080
        close = hostport.find("]")
        if close >= 0 and hostport[close + 1:].startswith(":"):
            host, port = hostport[: close + 1], hostport[close + 2:]
    elif ":" in hostport:
        host, _, port = hostport.partition(":")
    if port.isascii() and port.isdigit() and int(port) == {"http": 80, "https": 443}.get(scheme):
        port = ""
    if not tail.startswith("/"):
        tail = "/" + tail  # an empty path becomes "/" (before any query or fragment)
    return f"{scheme}://{userinfo}{at}{host.lower()}{':' + port if port else ''}{tail}"
