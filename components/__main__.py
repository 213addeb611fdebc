"""The component plugin's entry point. The engine runs `python <this folder> <engine address>`;
the SDK's host infers the schema from `slipway_components.plugin`, prints the port it serves
on, and builds a `Microservice` on each `Construct` (see docs/other-languages.md)."""

from pulumi.provider.experimental import component_provider_host

from slipway_components.plugin import PACKAGE, Microservice, plugin_version

if __name__ == "__main__":
    component_provider_host([Microservice], name=PACKAGE, version=plugin_version())
