"""Entry point of the lkps-onboarding Pulumi program."""

from program import run

run()
