"""Domain model of LKPS onboarding: shared rules, stack settings and secret rotation."""
