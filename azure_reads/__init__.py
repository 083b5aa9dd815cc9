"""Read-only REST access to Microsoft Graph, Key Vault and ARM: for the onboarding checklist,
the rights check and adoption."""
