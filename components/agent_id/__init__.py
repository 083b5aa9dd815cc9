"""Microsoft Entra Agent ID objects kept by the stack: agent identity blueprints, their blueprint
principals and agent identities, through Microsoft Graph v1.0 (`graph`), as dynamic providers
(`provider`) behind `pulumi.dynamic.Resource` classes (`resources`).

Nothing is imported here, so that a provider process that unpickles `components.agent_id.provider`
loads neither `pulumi.dynamic.Resource` nor azure-identity until it needs them.
"""
