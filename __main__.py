"""Entry point of the lkps-onboarding Pulumi program."""

from lkps.program import run

run()
