"""A preview in onboarding terms, for reviewers of a pull request."""
