"""Stacks: config models, the service catalog and the composition of components."""
