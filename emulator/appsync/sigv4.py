"""SigV4 signatures checked as AWS checks them: over the request that actually arrived.

One check serves both places ``gateway dev`` takes IAM-signed requests: AppSync's data
plane (:mod:`emulator.appsync.auth`) and the local DynamoDB endpoint (:mod:`emulator.cloud.guard`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

MAX_CLOCK_SKEW = timedelta(minutes=5)
CONTENT_HASH_HEADER = "x-amz-content-sha256"
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<headers>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Scope:
    """What a valid signature was made for: its region and its service."""

    region: str
    service: str


def verify(
    access_key_id: str,
    secret_access_key: str,
    headers: dict[str, str],
    method: str,
    url: str,
    body: bytes,
    now: datetime | None = None,
) -> Scope | None:
    """The scope a valid signature by this key pair was made for, or None.

    The payload hash is always the SHA-256 of ``body``. A client may send it in
    ``x-amz-content-sha256`` (S3-style clients do), but botocore's canonical request
    would take that header's word for the body: a signature captured once, with its
    header, would then sign any body. So a header that is not the body's hash, and
    ``UNSIGNED-PAYLOAD``, are refused.

    Parameters
    ----------
    headers
        Lower-cased request headers, as they arrived.
    """
    match = _AUTHORIZATION.match(headers.get("authorization", ""))
    if not match or not hmac.compare_digest(match["key"].encode(), access_key_id.encode()):
        return None
    amz_date = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    if abs((now or datetime.now(UTC)) - signed_at) > MAX_CLOCK_SKEW:
        return None
    if match["date"] != amz_date[:8]:
        return None
    signed_names = match["headers"].split(";")
    if "host" not in signed_names or any(name not in headers for name in signed_names):
        return None
    body_hash = hashlib.sha256(body).hexdigest()
    claimed = headers.get(CONTENT_HASH_HEADER)
    if claimed is not None and not hmac.compare_digest(claimed.encode(), body_hash.encode()):
        return None
    request = AWSRequest(
        method=method, url=url, data=body, headers={name: headers[name] for name in signed_names}
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(
        Credentials(access_key_id, secret_access_key), match["service"], match["region"]
    )
    # botocore ends the canonical request with the payload hash, taken from the
    # header when it is there: put the body's own hash there, whatever the header said.
    canonical = signer.canonical_request(request).rsplit("\n", 1)[0] + "\n" + body_hash
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected.encode(), match["signature"].encode()):
        return None
    return Scope(match["region"], match["service"])
