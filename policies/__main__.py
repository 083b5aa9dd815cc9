"""The policy pack's entry point: the engine runs this file; it serves until stopped."""

import sys

from pulumi_policy import PolicyPack

from lkps.engine_watch import exit_with_engine
from policies.pack import MANDATORY, PACK_NAME, POLICIES

exit_with_engine(sys.argv[1:])
PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=MANDATORY)
