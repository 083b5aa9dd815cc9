"""A local stand-in for Azure: the whole stack runs on this machine, and nothing reaches Azure.

`entra` emulates the parts of Microsoft Graph, Key Vault and ARM the stack touches, `standin`
holds the provider plugins the engine loads instead of azuread and azure-native, `behaviours`
lists what the stand-ins copy from the real providers (with sources), and `session` starts it all
for one command and stops it again, keeping state on disk under `.sandbox/`.
"""
