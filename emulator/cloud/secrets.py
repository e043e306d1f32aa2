"""The deployment's two secrets, in every local region, as the primary's replicas hold them.

infra creates each secret once, in the primary, with a replica in every other region;
the functions read their own region's copy at run time. moto has no replication, so
each region gets its own secret with the same name and value, which is what replication
yields. Secrets are not journaled: each start writes them again, from the flags.
"""

from __future__ import annotations

import json

from projections.settings import DEFAULT_TOKEN_SECRET, Settings


def create_secrets(settings: Settings, public_token: str) -> None:
    """Put the page-token key and the client-token list in ``settings``' region, under
    the names its functions read (a region whose settings name none gets none)."""
    client = settings.secretsmanager()
    wanted = {
        settings.token_secret_id: DEFAULT_TOKEN_SECRET,
        settings.client_token_secret_id: json.dumps({"tokens": public_token}),
    }
    for name, value in wanted.items():
        if name is None:
            continue
        try:
            client.create_secret(Name=name, SecretString=value)
        except client.exceptions.ResourceExistsException:
            client.put_secret_value(SecretId=name, SecretString=value)
