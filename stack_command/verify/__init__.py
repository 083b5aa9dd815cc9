"""`scripts/stack verify`: the onboarding checklist, checked against the live systems."""
