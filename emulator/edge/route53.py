"""Route 53, as the edge function sees it locally: latency records guarded by health.

On AWS the edge function resolves ``origin.<domain>``, which has one latency record per
region, a CNAME to that region's AppSync host, each guarded by the region's health
check (:class:`infra.routing.RegionalRoute`). Here :class:`LatencyRecords` answers that
name: the nearest region (the primary unless told otherwise) unless its health check
fails, then the next healthy one in order; when none is healthy, Route 53 treats them
all as healthy, so the nearest. Each region's AppSync host names have the shape the edge
function accepts (``<api id>.appsync-api.<region>.amazonaws.com``, and the real-time
host beside it), and lead to the loopback port that region listens on.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# AppSync API ids are lowercase letters and digits; the region in the name tells the
# regions' hosts apart.
LOCAL_API_ID = "gatewaydev"
_API_MARK = ".appsync-api."
_REALTIME_MARK = ".appsync-realtime-api."


@dataclass(frozen=True)
class RegionalEndpoint:
    """One region's AppSync host names, and where that region listens on this machine."""

    region: str
    address: tuple[str, int]

    @property
    def api_host(self) -> str:
        return f"{LOCAL_API_ID}{_API_MARK}{self.region}.amazonaws.com"

    @property
    def realtime_host(self) -> str:
        return self.api_host.replace(_API_MARK, _REALTIME_MARK, 1)


class LatencyRecords:
    """The origin name's latency records, one per region, nearest first.

    Parameters
    ----------
    origin_name
        The name the edge function resolves: ``origin.<the deployment's domain>``.
    endpoints
        Every region, nearest first: the order latency routing would find locally.
    healthy
        A region's health check, asked at each lookup (Route 53 checks continuously and
        answers from the last result; the caller's checks are just as current).
    """

    def __init__(
        self,
        origin_name: str,
        endpoints: Sequence[RegionalEndpoint],
        healthy: Callable[[str], bool],
    ) -> None:
        if not endpoints:
            raise ValueError("latency records need at least one region")
        self.origin_name = _normal(origin_name)
        self.endpoints = tuple(endpoints)
        self._healthy = healthy
        self._by_host = {
            host: endpoint
            for endpoint in self.endpoints
            for host in (endpoint.api_host, endpoint.realtime_host)
        }

    def answer(self) -> RegionalEndpoint:
        """The record Route 53 answers with: the nearest region whose check is healthy."""
        for endpoint in self.endpoints:
            if self._healthy(endpoint.region):
                return endpoint
        return self.endpoints[0]

    def origin(self, host: str) -> RegionalEndpoint | None:
        """The region serving an AppSync host name (API or real-time), if one does."""
        return self._by_host.get(_normal(host))

    def gethostbyname_ex(self, name: str) -> tuple[str, list[str], list[str]]:
        """What ``socket.gethostbyname_ex`` returns for ``name`` on this machine's
        stand-in DNS: a CNAME's target as the canonical name, the asked name among the
        aliases. An unknown name fails as the resolver fails."""
        asked = _normal(name)
        if asked == self.origin_name:
            endpoint = self.answer()
            return endpoint.api_host, [asked], [endpoint.address[0]]
        serving = self.origin(asked)
        if serving is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return asked, [], [serving.address[0]]


def nearest_first(regions: Sequence[str], nearest: str) -> list[str]:
    """The regions in the order latency routing tries them from a client near
    ``nearest``: it first, then the others in the deployment's order."""
    if nearest not in regions:
        raise ValueError(f"{nearest} is not one of this deployment's regions")
    return [nearest, *(region for region in regions if region != nearest)]


def _normal(name: str) -> str:
    return name.strip().rstrip(".").lower()
