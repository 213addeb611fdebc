"""slipway: deploy microservices with Pulumi, previewed and policy-checked offline."""

__version__ = "0.1.0"
