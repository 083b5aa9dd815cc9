"""The provider plugins the sandbox gives the engine instead of azuread and azure-native."""
