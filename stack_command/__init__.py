"""The stack command: runs the stack through the Pulumi engine with the Automation API."""
