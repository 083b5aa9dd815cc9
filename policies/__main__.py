"""The policy pack's entry point: the engine runs this file; it serves until stopped."""

from pulumi_policy import PolicyPack

from policies.pack import MANDATORY, PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=MANDATORY)
