"""Pulumi components of LKPS onboarding."""
