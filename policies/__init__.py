"""The lkps-onboarding CrossGuard policy pack: rules in importable modules, the pack in __main__."""
