"""How the health alarms count, in one stdlib-only place: ``gateway dev`` judges its
regions' health by the same rule CloudWatch applies on AWS
(:mod:`emulator.edge.health`), without importing the CDK.
"""

from __future__ import annotations

# A health alarm fires on 2 bad minutes out of 3, a missing minute counting as bad: one
# lost datapoint is tolerated, and a region fails over within about 3 minutes.
HEALTH_EVALUATION_PERIODS = 3
HEALTH_DATAPOINTS_TO_ALARM = 2
