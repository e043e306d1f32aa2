"""The Lambda@Edge origin router: this folder is its code asset, deployed as it is.

``CODE`` and ``HANDLER`` say what Lambda@Edge runs; the edge stack deploys them
(:mod:`infra.routing`), and ``gateway dev`` loads the same handler from the same files
for its global endpoint (:mod:`emulator.edge.cloudfront`).
"""

from __future__ import annotations

from pathlib import Path

CODE = Path(__file__).resolve().parent
HANDLER = "origin_request.handler"
