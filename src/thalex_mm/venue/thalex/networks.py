"""Where the client connects: the local exchange (default), Thalex testnet or production.

Production is never reached by accident: it needs the network named explicitly *and* an
explicit ``allow_production`` flag; starting it prints a loud banner (no confirmation prompt,
so unattended restarts still work).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from thalex_mm.errors import UserError

DEFAULT_LOCAL_URL = "ws://127.0.0.1:8765/ws/api/v2"
TESTNET_URL = "wss://testnet.thalex.com/ws/api/v2"
PRODUCTION_URL = "wss://thalex.com/ws/api/v2"


class Network(enum.StrEnum):
    LOCAL = "local"
    TESTNET = "testnet"
    PRODUCTION = "production"


_FIXED_URLS = {Network.TESTNET: TESTNET_URL, Network.PRODUCTION: PRODUCTION_URL}


@dataclass(frozen=True, slots=True)
class Endpoint:
    network: Network
    url: str

    @property
    def is_real_money(self) -> bool:
        return self.network is Network.PRODUCTION


def resolve_endpoint(
    network: str | Network = Network.LOCAL,
    *,
    local_url: str | None = None,
    allow_production: bool = False,
) -> Endpoint:
    """Turn a user's network choice into a URL, refusing production without the flag."""
    try:
        net = Network(network)
    except ValueError:
        choices = ", ".join(n.value for n in Network)
        raise UserError(f"unknown network {network!r} (choose one of: {choices})") from None
    if net is Network.LOCAL:
        url = local_url or DEFAULT_LOCAL_URL
        if not url.startswith(("ws://", "wss://")):
            raise UserError(f"local exchange URL must start with ws:// or wss://, got {url!r}")
        return Endpoint(net, url)
    if local_url is not None:
        raise UserError(f"a custom URL is only allowed for the local network, not {net.value}")
    if net is Network.PRODUCTION and not allow_production:
        raise UserError(
            "network 'production' trades real money; pass --i-understand-this-is-production "
            "(allow_production=True) to start it"
        )
    return Endpoint(net, _FIXED_URLS[net])


def start_banner(endpoint: Endpoint) -> str | None:
    """The loud text to print when trading starts on a network with real money, else None."""
    if not endpoint.is_real_money:
        return None
    line = "!" * 72
    return (
        f"{line}\n"
        f"!!  LIVE TRADING ON THALEX PRODUCTION ({endpoint.url})\n"
        "!!  Orders are real and use real funds. Stop with Ctrl-C / SIGTERM:\n"
        "!!  the engine then cancels every order of its session before exiting.\n"
        f"{line}"
    )
