"""Where a running ``gateway dev`` says how to reach it, for the other ``gateway`` commands.

``<state-dir>/dev.json`` holds the moto endpoint, the regions and their URLs (and the
global endpoint's), the local credentials, this run's operator token
(:mod:`emulator.operator`) and each region's stack outputs (:mod:`infra.outputs`), the
names the operator's tools read on AWS too. It is the owner's alone (0600, in a 0700
directory): whoever reads it may do anything the operator may. It exists while
``gateway dev`` runs and is removed when it stops.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from emulator.appsync.auth import LocalCredentials
from emulator.private_files import write_private
from infra import outputs as names
from projections.settings import Settings

DEFAULT_STATE_DIR = ".gateway"
FILE_NAME = "dev.json"


class NotRunning(Exception):
    """No ``gateway dev`` has announced itself in this state directory."""


@dataclass(frozen=True)
class RunningDev:
    """One running ``gateway dev``, as it announced itself.

    ``outputs`` holds, by region, the stack outputs ``gateway dev`` resolved from the
    template (``DeadLetterQueueUrl``, the tables as the template names them...); what it
    leaves out is derived from the rest (:meth:`outputs_for`).
    """

    endpoint_url: str
    regions: list[str]
    urls: list[str]
    credentials: LocalCredentials
    operator_token: str
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    # The global endpoint, in front of every region (emulator.edge).
    global_url: str | None = None

    def outputs_for(self, region: str) -> dict[str, str]:
        """``region``'s stack outputs, as the tools read a deployed stack's."""
        settings = self.settings(region)
        url = self.urls[self.regions.index(region)]
        derived = {
            names.REGION: region,
            names.PRIMARY_REGION: self.regions[0],
            names.REGIONS: ",".join(self.regions),
            names.WRITE_TABLE: settings.write_table,
            names.PROJECTION_TABLE: settings.projection_table,
            names.GRAPHQL_URL: url,
            # AppSync's own real-time host serves /graphql, and so does each region here.
            names.REALTIME_URL: url.replace("http", "ws", 1),
        }
        return {**derived, **self.outputs.get(region, {})}

    def settings(self, region: str) -> Settings:
        index = self.regions.index(region)
        return Settings(
            region=region,
            primary_region=self.regions[0],
            endpoint_url=self.endpoint_url,
            appsync_url=self.urls[index],
        )


def announce(state_dir: Path, running: RunningDev) -> Path:
    path = state_dir / FILE_NAME
    body = {**asdict(running), "pid": os.getpid()}
    write_private(path, json.dumps(body, indent=2).encode())
    return path


def withdraw(state_dir: Path) -> None:
    (state_dir / FILE_NAME).unlink(missing_ok=True)


def find(state_dir: Path) -> RunningDev:
    """The running ``gateway dev``, or NotRunning with what to do about it."""
    path = state_dir / FILE_NAME
    try:
        body = json.loads(path.read_text())
        running = RunningDev(
            endpoint_url=body["endpoint_url"],
            regions=list(body["regions"]),
            urls=list(body["urls"]),
            credentials=LocalCredentials(**body["credentials"]),
            operator_token=str(body["operator_token"]),
            outputs=_outputs(body.get("outputs", {})),
            global_url=body.get("global_url"),
        )
    except FileNotFoundError:
        raise NotRunning(
            f"no gateway dev is running with state in {state_dir}/ (start one with `make dev`, "
            "or pass the --state-dir it uses)"
        ) from None
    except PermissionError:
        raise NotRunning(
            f"{path} is not readable by this user: run the command as the user who "
            "started gateway dev"
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise NotRunning(f"{path} is not a gateway dev state file: {error}") from None
    if not _alive(body.get("pid")):
        raise NotRunning(f"the gateway dev that wrote {path} is no longer running")
    return running


def _outputs(value: object) -> dict[str, dict[str, str]]:
    """The announced outputs, checked: by region, names to text."""
    if not isinstance(value, dict):
        raise TypeError("outputs must be an object")
    checked: dict[str, dict[str, str]] = {}
    for region, values in value.items():
        if not isinstance(values, dict) or not all(
            isinstance(name, str) and isinstance(text, str) for name, text in values.items()
        ):
            raise TypeError(f"the outputs of {region} must map names to text")
        checked[str(region)] = dict(values)
    return checked


def _alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
